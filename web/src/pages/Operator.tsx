import { useMemo, useState } from "react";
import { get, post, type AuditEvent, type CopySession, type ErrorEvent, type Kyc, type ReconciliationResult, type User } from "../api";
import { enumLabel, qty, time } from "../format";
import { useAction, useEvery, useLoad, usePageTitle } from "../hooks";
import { Confirm } from "../components/Confirm";
import { actionWords, reasonWords } from "../words";
import { useSession } from "../session";
import { masterLabel, masterNames } from "../masters";
import { Empty, ErrorBox, Loading, Notice } from "../components/Status";

function Retries({ people }: { people: Person[] }) {
  const retries = useLoad(() => get<{ events?: ErrorEvent[] }>("/api/error-recovery/pending-retries?pageSize=100"), []);
  const action = useAction();
  const [done, setDone] = useState("");
  const act = (e: ErrorEvent, verb: "retry" | "cancel" | "resolve") => async () => {
    setDone("");
    const path = verb === "retry" ? "/api/error-recovery/process-retry" : `/v1/error-events/${encodeURIComponent(e.errorId)}:${verb}`;
    const reply = await action.run(() => post<{ event: ErrorEvent }>(path, { errorId: e.errorId, comment: `${verb} from the web app` }));
    if (reply) {
      setDone(`The failed copy is now: ${enumLabel(reply.event?.status).toLowerCase()}`);
      retries.reload();
    }
  };
  const events = retries.data?.events ?? [];
  return (
    <section aria-labelledby="retries-title">
      <h2 id="retries-title">Failed copies waiting</h2>
      <ErrorBox error={retries.error} onRetry={retries.reload} />
      {retries.loading && !retries.data && <Loading what="pending retries" />}
      {retries.data && events.length === 0 && <Empty>Nothing waits for a retry or a person.</Empty>}
      {events.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Failed copies">
          <table>
            <thead>
              <tr>
                <th scope="col">Since</th>
                <th scope="col">Follower</th>
                <th scope="col">Problem / status</th>
                <th scope="col">Tries</th>
                <th scope="col">Next try</th>
                <th scope="col">Message</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.errorId}>
                  <td>{time(e.createTime)}</td>
                  <td>{people.find((p) => p.id === e.followerId)?.email ?? "a follower"}</td>
                  <td>
                    {reasonWords(e.errorType?.replace(/^ERROR_TYPE_/, "")) || enumLabel(e.errorType)} / {enumLabel(e.status)}
                  </td>
                  <td>{e.attemptCount ?? 0}</td>
                  <td>{time(e.nextAttemptTime)}</td>
                  <td>{e.message}</td>
                  <td className="actions">
                    <button type="button" onClick={act(e, "retry")} disabled={action.busy}>
                      Retry now
                    </button>
                    <button type="button" onClick={act(e, "cancel")} disabled={action.busy}>
                      Cancel
                    </button>
                    <button type="button" onClick={act(e, "resolve")} disabled={action.busy}>
                      Resolved
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorBox error={action.error} />
      {done && <Notice>{done}</Notice>}
    </section>
  );
}

function SessionReconciliation({ session, name }: { session: CopySession; name: string }) {
  const results = useLoad(() => get<{ results?: ReconciliationResult[] }>(`/v1/reconciliation-results?configId=${encodeURIComponent(session.configId)}&pageSize=1`), [session.configId]);
  const action = useAction();
  const latest = results.data?.results?.[0];
  async function resync() {
    if (await action.run(() => post(`/v1/copy-sessions/${encodeURIComponent(session.configId)}:resync`, {}))) results.reload();
  }
  return (
    <article className="card" aria-label={`Reconciliation of the copy of ${name}`}>
      <header>
        <h3>Copy of {name}</h3>
        <span className={`badge ${latest ? (latest.inSync ? "active" : "refused") : ""}`}>{latest ? (latest.inSync ? "in sync" : "drifted") : "not reconciled yet"}</span>
      </header>
      <p className="small muted">
        {enumLabel(session.state)} · last checked {time(latest?.runTime)}{latest?.resolution && latest.resolution !== "none" ? ` · ${latest.resolution}` : ""}
      </p>
      <ErrorBox error={results.error} onRetry={results.reload} />
      {(latest?.discrepancies ?? []).length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label={`Differences of the copy of ${name}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">Symbol</th>
              <th scope="col">Follower holds</th>
              <th scope="col">Master implies</th>
              <th scope="col">Difference</th>
              <th scope="col">Cause</th>
            </tr>
          </thead>
          <tbody>
            {latest!.discrepancies!.map((d, i) => (
              <tr key={`${d.symbol}-${i}`}>
                <td>{d.symbol}</td>
                <td>{qty(d.followerPosition)}</td>
                <td>{qty(d.targetPosition)}</td>
                <td>{qty(d.difference)}</td>
                <td>{enumLabel(d.cause)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      <div className="actions">
        <button type="button" onClick={resync} disabled={action.busy || session.state === "SESSION_STATE_STOPPED"}>
          {action.busy ? "Resyncing…" : "Resync now"}
        </button>
      </div>
      <ErrorBox error={action.error} />
    </article>
  );
}

interface Person {
  id: string;
  email: string;
}

/** Who the ids are (an operator may read any user), for choosing by email rather than by id. */
function usePeople(ids: string[]) {
  return useLoad(
    () =>
      Promise.all(
        ids.map((id) =>
          get<{ user: User }>(`/v1/users/${encodeURIComponent(id)}`).then(
            (r) => ({ id, email: r.user?.email ?? id }),
            () => ({ id, email: id }),
          ),
        ),
      ).then((people) => people.sort((a, b) => a.email.localeCompare(b.email))),
    [ids.join(",")],
  );
}

function PersonPicker({ label, people, value, onChange }: { label: string; people: Person[]; value: string; onChange: (id: string) => void }) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">choose…</option>
        {people.map((p) => (
          <option key={p.id} value={p.id}>
            {p.email}
          </option>
        ))}
      </select>
    </label>
  );
}

function Reconciliation({ people }: { people: Person[] }) {
  const names = useLoad(masterNames, []);
  const [follower, setFollower] = useState("");
  const chosen = follower || people.find((p) => p.email.startsWith("alice@"))?.id || people[0]?.id || "";
  const sessions = useLoad(
    () => (chosen ? get<{ sessions?: CopySession[] }>(`/v1/copy-sessions?followerId=${encodeURIComponent(chosen)}&pageSize=50`) : Promise.resolve({ sessions: [] })),
    [chosen],
  );
  const live = (sessions.data?.sessions ?? []).filter((s) => s.state !== "SESSION_STATE_STOPPED");
  return (
    <section aria-labelledby="recon-title">
      <h2 id="recon-title">Reconciliation</h2>
      <form className="grid-form" onSubmit={(e) => e.preventDefault()} aria-label="Choose a follower">
        <PersonPicker label="Follower" people={people} value={chosen} onChange={setFollower} />
      </form>
      <ErrorBox error={sessions.error} onRetry={sessions.reload} />
      {sessions.loading && !sessions.data && <Loading what="sessions" />}
      {sessions.data && chosen && live.length === 0 && <Empty>This person copies no one now.</Empty>}
      <div className="cards">
        {live.map((s) => (
          <SessionReconciliation key={s.configId} session={s} name={masterLabel(names.data, s.masterId)} />
        ))}
      </div>
    </section>
  );
}

function Audit() {
  const events = useLoad(() => get<{ events?: AuditEvent[] }>("/v1/audit-events?pageSize=15"), []);
  const action = useAction();
  const [result, setResult] = useState<{ intact?: boolean; recordsChecked?: string; firstBadSequence?: string; problem?: string } | null>(null);
  async function verify() {
    const reply = await action.run(() => post<typeof result>("/v1/audit-events:verify", {}));
    if (reply) setResult(reply);
  }
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit trail</h2>
      <div className="actions">
        <button type="button" className="primary" onClick={verify} disabled={action.busy}>
          {action.busy ? "Verifying…" : "Verify the audit chain"}
        </button>
      </div>
      <ErrorBox error={action.error} />
      {result && (
        <p role="status" className={`status ${result.intact ? "notice" : "error"}`} data-testid="audit-result">
          {result.intact
            ? `Intact: ${result.recordsChecked ?? 0} records checked, each one linked to the one before.`
            : `Broken at record ${result.firstBadSequence}: ${result.problem} (${result.recordsChecked ?? 0} checked)`}
        </p>
      )}
      <ErrorBox error={events.error} onRetry={events.reload} />
      {events.loading && !events.data && <Loading what="audit events" />}
      {(events.data?.events ?? []).length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Latest audit records">
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time</th>
                <th scope="col">Action</th>
                <th scope="col">By</th>
                <th scope="col">About</th>
              </tr>
            </thead>
            <tbody>
              {events.data!.events!.map((e) => (
                <tr key={e.sequence}>
                  <td>{e.sequence}</td>
                  <td>{time(e.occurTime)}</td>
                  <td>{actionWords(e.action)}</td>
                  <td>{e.actor?.startsWith("service:") ? "the platform" : "a person"}</td>
                  <td>{(e.resource ?? "").split(":")[0]}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function KycDecision({ userId, email, onDecided }: { userId: string; email?: string; onDecided: () => void }) {
  const kyc = useLoad(() => get<{ kyc?: Kyc }>(`/v1/users/${encodeURIComponent(userId)}/kyc`), [userId]);
  const [comment, setComment] = useState("");
  const [rejecting, setRejecting] = useState(false);
  const action = useAction();
  const k = kyc.data?.kyc;
  async function decide(approve: boolean) {
    const done = await action.run(() => post(`/v1/users/${encodeURIComponent(userId)}/kyc:decide`, { approve, comment: comment || (approve ? "approved" : "rejected") }));
    setRejecting(false);
    if (done) {
      kyc.reload();
      onDecided();
    }
  }
  return (
    <article className="card" aria-label={`KYC of ${email ?? userId}`}>
      <header>
        <h3>{k?.legalName || email || "Someone"}</h3>
        {email && <span className="muted small">{email}</span>}
        <span className={`badge ${k?.status === "KYC_STATUS_APPROVED" ? "active" : k?.status === "KYC_STATUS_REJECTED" ? "refused" : "paused"}`}>{enumLabel(k?.status)}</span>
      </header>
      <ErrorBox error={kyc.error} onRetry={kyc.reload} />
      {k && (
        <p className="small muted">
          {k.country} · {(k.documentType ?? "").replace(/_/g, " ")} · sent {time(k.submitTime)}
          {k.decideTime && ` · decided ${time(k.decideTime)}${k.comment ? `: ${k.comment}` : ""}`}
        </p>
      )}
      {k?.status === "KYC_STATUS_PENDING" && (
        <div className="grid-form">
          <label>
            Comment
            <input value={comment} onChange={(e) => setComment(e.target.value)} />
          </label>
          <div className="actions">
            <button type="button" className="primary" onClick={() => decide(true)} disabled={action.busy}>
              Approve
            </button>
            <button type="button" className="danger" onClick={() => setRejecting(true)} disabled={action.busy}>
              Reject
            </button>
          </div>
        </div>
      )}
      {rejecting && (
        <Confirm title={`Reject ${k?.legalName || email || "this person"}?`} confirmLabel="Reject" danger busy={action.busy} onConfirm={() => decide(false)} onCancel={() => setRejecting(false)}>
          <p>They cannot copy until they send their details again and someone approves them. Your comment is shown to them.</p>
          {!comment && <p className="small">Add a comment first, saying what to correct.</p>}
        </Confirm>
      )}
      <ErrorBox error={action.error} />
    </article>
  );
}

function KycDecisions({ kycEvents, people, reload }: { kycEvents: AuditEvent[]; people: Person[]; reload: () => void }) {
  const [lookup, setLookup] = useState("");
  // Each user's latest KYC step, newest first (the audit trail lists newest first).
  const latest = useMemo(() => {
    const seen = new Map<string, string>();
    for (const e of kycEvents) if (e.subjectUserId && !seen.has(e.subjectUserId)) seen.set(e.subjectUserId, e.action ?? "");
    return [...seen.entries()];
  }, [kycEvents]);
  const pending = latest.filter(([, action]) => action === "kyc.submitted").map(([id]) => id);
  const decided = latest.filter(([, action]) => action !== "kyc.submitted").map(([id]) => id);
  return (
    <section aria-labelledby="kyc-title">
      <h2 id="kyc-title">KYC decisions</h2>
      {pending.length === 0 ? <Empty>No KYC submission waits for a decision.</Empty> : null}
      <div className="cards">
        {pending.map((id) => (
          <KycDecision key={id} userId={id} email={people.find((p) => p.id === id)?.email} onDecided={reload} />
        ))}
      </div>
      <form className="grid-form" onSubmit={(e) => e.preventDefault()} aria-label="Look up a user's KYC">
        <PersonPicker label="Look up a user's KYC" people={people.filter((p) => decided.includes(p.id))} value={lookup} onChange={setLookup} />
      </form>
      {lookup && <KycDecision key={lookup} userId={lookup} email={people.find((p) => p.id === lookup)?.email} onDecided={reload} />}
      {decided.length > 0 && <p className="small muted">{decided.length} user(s) already decided.</p>}
    </section>
  );
}

export function OperatorPage() {
  usePageTitle("Operator");
  const { isOperator } = useSession();
  const kyc = useLoad(() => get<{ events?: AuditEvent[] }>("/v1/audit-events?actionPrefix=kyc.&pageSize=200"), []);
  useEvery(5000, kyc.reload, isOperator); // new submissions appear without a reload
  const ids = useMemo(() => [...new Set((kyc.data?.events ?? []).map((e) => e.subjectUserId ?? "").filter(Boolean))], [kyc.data]);
  const people = usePeople(ids);
  if (!isOperator) return <Empty>This page is for operators.</Empty>;
  return (
    <section aria-labelledby="operator-title">
      <h1 id="operator-title">Operator</h1>
      <ErrorBox error={kyc.error} onRetry={kyc.reload} />
      <Retries people={people.data ?? []} />
      <Reconciliation people={people.data ?? []} />
      <Audit />
      <KycDecisions kycEvents={kyc.data?.events ?? []} people={people.data ?? []} reload={kyc.reload} />
    </section>
  );
}
