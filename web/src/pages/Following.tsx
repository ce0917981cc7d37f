import { useState } from "react";
import { get, patch, post, type CopySession, type CopySessionStats, type CopySettings, type Credential, type VenueAccount } from "../api";
import { enumLabel, num, time } from "../format";
import { useAction, useLoad } from "../hooks";
import { masterLabel, masterNames } from "../masters";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading, Notice } from "../components/Status";
import { cleanSizing, SIZING_MODES, SizingFields } from "../components/SizingFields";

const OUTAGE = ["FEED_OUTAGE_POLICY_FREEZE", "FEED_OUTAGE_POLICY_FLATTEN", "FEED_OUTAGE_POLICY_RESYNC"];

export function parseSymbolMap(text: string) {
  return text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [masterSymbol, followerSymbol] = line.split(/\s*(?:=>|->|=)\s*/);
      return { masterSymbol: masterSymbol?.trim(), followerSymbol: (followerSymbol ?? "").trim() };
    })
    .filter((m) => m.masterSymbol && m.followerSymbol);
}

const list = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

function SettingsForm({ session, onSaved }: { session: CopySession; onSaved: () => void }) {
  const s = session.settings ?? {};
  const [settings, setSettings] = useState<CopySettings>(s);
  const [symbolMap, setSymbolMap] = useState((s.symbolMap ?? []).map((m) => `${m.masterSymbol} => ${m.followerSymbol}`).join("\n"));
  const [allowed, setAllowed] = useState((s.allowedSymbols ?? []).join(", "));
  const [denied, setDenied] = useState((s.deniedSymbols ?? []).join(", "));
  const action = useAction();
  const [saved, setSaved] = useState(false);
  const id = session.configId;

  async function save(e: React.FormEvent) {
    e.preventDefault();
    setSaved(false);
    const sized = cleanSizing(settings);
    const body: CopySettings = {
      ...sized,
      symbolMap: parseSymbolMap(symbolMap),
      allowedSymbols: list(allowed),
      deniedSymbols: list(denied),
    };
    const mode = SIZING_MODES.find((m) => m.mode === body.sizingMode);
    const mask = ["sizingMode", ...(mode?.field ? [mode.field] : []), "symbolMap", "allowedSymbols", "deniedSymbols", "maxSlippage", "feedOutagePolicy", "reverse", "mirrorRestingOrders"];
    const done = await action.run(() => patch(`/v1/copy-sessions/${encodeURIComponent(id)}/settings?updateMask=${mask.join(",")}`, body));
    if (done) {
      setSaved(true);
      onSaved();
    }
  }

  return (
    <form className="grid-form" onSubmit={save} aria-label={`Settings of session ${id}`}>
      <SizingFields settings={settings} onChange={setSettings} idPrefix={`s-${id}`} />
      <label>
        Symbol map (one per line: master =&gt; yours)
        <textarea rows={2} value={symbolMap} onChange={(e) => setSymbolMap(e.target.value)} placeholder="BTC/USDT => BTC/USDT:USDT" />
      </label>
      <label>
        Only these symbols (blank: all)
        <input value={allowed} onChange={(e) => setAllowed(e.target.value)} placeholder="BTC/USDT, ETH/USDT" />
      </label>
      <label>
        Never these symbols
        <input value={denied} onChange={(e) => setDenied(e.target.value)} />
      </label>
      <label>
        Max slippage (0.01 = 1%)
        <input inputMode="decimal" value={settings.maxSlippage ?? ""} onChange={(e) => setSettings({ ...settings, maxSlippage: e.target.value })} />
      </label>
      <label>
        If the master's feed is down
        <select value={settings.feedOutagePolicy ?? "FEED_OUTAGE_POLICY_FREEZE"} onChange={(e) => setSettings({ ...settings, feedOutagePolicy: e.target.value })}>
          {OUTAGE.map((o) => (
            <option key={o} value={o}>
              {enumLabel(o)}
            </option>
          ))}
        </select>
      </label>
      <label className="check">
        <input type="checkbox" checked={!!settings.reverse} onChange={(e) => setSettings({ ...settings, reverse: e.target.checked })} />
        Reverse (sell when the master buys)
      </label>
      <label className="check">
        <input type="checkbox" checked={!!settings.mirrorRestingOrders} onChange={(e) => setSettings({ ...settings, mirrorRestingOrders: e.target.checked })} />
        Mirror resting limit orders (with their amendments and cancels) instead of copying fills at market
      </label>
      <div className="actions">
        <button type="submit" disabled={action.busy}>
          {action.busy ? "Saving…" : "Save settings"}
        </button>
      </div>
      <ErrorBox error={action.error} />
      {saved && <Notice>Settings saved; the next copies use them.</Notice>}
    </form>
  );
}

function SessionCard({ session, masterName, onChanged }: { session: CopySession; masterName: string; onChanged: () => void }) {
  const status = useLoad(() => get<{ session: CopySession; stats?: CopySessionStats }>(`/v1/copy-sessions/${encodeURIComponent(session.configId)}`), [session.configId, session.state]);
  const action = useAction();
  const [editing, setEditing] = useState(false);
  const state = session.state ?? "";
  const live = state !== "SESSION_STATE_STOPPED";
  const act = (verb: string) => async () => {
    const done = await action.run(() => post(`/v1/copy-sessions/${encodeURIComponent(session.configId)}:${verb}`, { reason: "from the web app" }));
    if (done) onChanged();
  };
  const stats = status.data?.stats;
  return (
    <article className="card" aria-label={`Session copying ${masterName}`}>
      <header>
        <h3>{masterName}</h3>
        <span className={`badge ${state.toLowerCase()}`}>{enumLabel(state)}</span>
      </header>
      <p className="muted small">
        session {session.configId} · account {session.followerAccountId} · since {time(session.createTime)}
        {session.stateReason && ` · ${session.stateReason}`}
      </p>
      <p>
        Sizing: {enumLabel(session.settings?.sizingMode)}{" "}
        {session.settings?.multiplier ?? session.settings?.fixedNotional ?? session.settings?.fixedQuantity ?? session.settings?.riskPercent ?? ""}
        {(session.settings?.symbolMap ?? []).length > 0 && ` · maps ${(session.settings?.symbolMap ?? []).map((m) => `${m.masterSymbol}→${m.followerSymbol}`).join(", ")}`}
      </p>
      {stats && (
        <p className="small">
          {stats.masterFillsSeen ?? 0} master fills · {stats.ordersFilled ?? 0} copies filled · {stats.copiesRefused ?? 0} refused · {stats.copiesFailed ?? 0} failed · latency p50{" "}
          {num(stats.latencyP50Ms, 0)} ms, p99 {num(stats.latencyP99Ms, 0)} ms
        </p>
      )}
      <div className="actions">
        {state === "SESSION_STATE_ACTIVE" && (
          <button type="button" onClick={act("pause")} disabled={action.busy}>
            Pause
          </button>
        )}
        {(state === "SESSION_STATE_PAUSED" || state === "SESSION_STATE_FROZEN") && (
          <button type="button" onClick={act("resume")} disabled={action.busy}>
            Resume
          </button>
        )}
        {live && (
          <button type="button" className="danger" onClick={act("stop")} disabled={action.busy}>
            Stop
          </button>
        )}
        {live && (
          <button type="button" aria-expanded={editing} onClick={() => setEditing((e) => !e)}>
            {editing ? "Close settings" : "Settings"}
          </button>
        )}
      </div>
      <ErrorBox error={action.error} />
      {editing && <SettingsForm session={session} onSaved={onChanged} />}
    </article>
  );
}

/** A masked key as the vault returns it (stars and the last characters), shortened for a table. */
export function maskShort(masked: string | undefined): string {
  if (!masked) return "—";
  const visible = masked.replace(/^\*+/, "");
  return masked.length > visible.length ? `••••${visible}` : masked;
}

const MARKETS = ["MARKET_TYPE_SPOT", "MARKET_TYPE_PERPETUAL", "MARKET_TYPE_FUTURE"];

function Credentials() {
  const { user } = useSession();
  const creds = useLoad(() => get<{ credentials?: Credential[] }>(`/v1/users/${encodeURIComponent(user.userId)}/credentials`), [user.userId]);
  const accounts = useLoad(() => get<{ accounts?: VenueAccount[] }>(`/v1/venue-accounts`), []);
  const [form, setForm] = useState({ venueId: "binance", marketType: MARKETS[0], label: "", apiKey: "", apiSecret: "", passphrase: "" });
  const action = useAction();
  const [added, setAdded] = useState("");

  async function add(e: React.FormEvent) {
    e.preventDefault();
    setAdded("");
    const venue = { kind: "VENUE_KIND_CCXT", id: form.venueId.trim(), marketType: form.marketType };
    const done = await action.run(async () => {
      const stored = await post<{ credential: Credential }>(`/v1/users/${encodeURIComponent(user.userId)}/credentials`, {
        venue,
        label: form.label,
        apiKey: form.apiKey,
        apiSecret: form.apiSecret,
        passphrase: form.passphrase || undefined,
      });
      await post("/v1/venue-accounts", { userId: user.userId, role: "ACCOUNT_ROLE_FOLLOWER", venue, credentialId: stored.credential.credentialId, label: form.label });
      return stored;
    });
    if (done) {
      // The secret leaves the page: only the masked key is ever shown again.
      setForm({ ...form, apiKey: "", apiSecret: "", passphrase: "" });
      setAdded(done.credential.maskedApiKey ?? "");
      creds.reload();
      accounts.reload();
    }
  }

  const list = creds.data?.credentials ?? [];
  return (
    <section aria-labelledby="creds-title">
      <h2 id="creds-title">Venue keys and accounts</h2>
      <ErrorBox error={creds.error} onRetry={creds.reload} />
      {creds.loading && !creds.data && <Loading what="your venue keys" />}
      {creds.data && list.length === 0 && <Empty>No venue keys yet.</Empty>}
      {list.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Label</th>
                <th scope="col">Venue</th>
                <th scope="col">API key</th>
                <th scope="col">Accounts using it</th>
                <th scope="col">Added</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.credentialId}>
                  <td>{c.label || "—"}</td>
                  <td>
                    {c.venue?.id} {enumLabel(c.venue?.marketType)}
                  </td>
                  <td>
                    <code title="masked: the key itself is never shown again">{maskShort(c.maskedApiKey)}</code>
                  </td>
                  <td>
                    {(accounts.data?.accounts ?? [])
                      .filter((a) => a.credentialId === c.credentialId)
                      .map((a) => `${a.accountId} (${enumLabel(a.role)})`)
                      .join(", ") || "—"}
                  </td>
                  <td>{time(c.createTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Add venue keys</h3>
      <form className="grid-form" onSubmit={add} aria-label="Add venue keys">
        <label>
          Venue (ccxt id)
          <input value={form.venueId} onChange={(e) => setForm({ ...form, venueId: e.target.value })} required />
        </label>
        <label>
          Market
          <select value={form.marketType} onChange={(e) => setForm({ ...form, marketType: e.target.value })}>
            {MARKETS.map((m) => (
              <option key={m} value={m}>
                {enumLabel(m)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Label
          <input value={form.label} onChange={(e) => setForm({ ...form, label: e.target.value })} required />
        </label>
        <label>
          API key
          <input value={form.apiKey} autoComplete="off" onChange={(e) => setForm({ ...form, apiKey: e.target.value })} required />
        </label>
        <label>
          API secret
          <input type="password" autoComplete="new-password" value={form.apiSecret} onChange={(e) => setForm({ ...form, apiSecret: e.target.value })} required />
        </label>
        <label>
          Passphrase (if the venue has one)
          <input type="password" autoComplete="new-password" value={form.passphrase} onChange={(e) => setForm({ ...form, passphrase: e.target.value })} />
        </label>
        <div className="actions">
          <button type="submit" disabled={action.busy}>
            {action.busy ? "Saving…" : "Save keys"}
          </button>
        </div>
      </form>
      <ErrorBox error={action.error} />
      {added && <Notice>Saved. The key is kept encrypted and shown only masked: {added}</Notice>}
    </section>
  );
}

export function FollowingPage() {
  const { user } = useSession();
  const sessions = useLoad(() => get<{ sessions?: CopySession[] }>(`/v1/copy-sessions?followerId=${encodeURIComponent(user.userId)}&pageSize=100`), [user.userId]);
  const names = useLoad(masterNames, []);
  const [showStopped, setShowStopped] = useState(false);
  const all = sessions.data?.sessions ?? [];
  const shown = all.filter((s) => showStopped || s.state !== "SESSION_STATE_STOPPED");
  return (
    <section aria-labelledby="following-title">
      <h1 id="following-title">Following</h1>
      <h2>Copy sessions</h2>
      <label className="check">
        <input type="checkbox" checked={showStopped} onChange={(e) => setShowStopped(e.target.checked)} /> Show stopped sessions
      </label>
      <ErrorBox error={sessions.error} onRetry={sessions.reload} />
      {sessions.loading && !sessions.data && <Loading what="your copy sessions" />}
      {sessions.data && shown.length === 0 && <Empty>You are not copying anyone. Find a master under Discover.</Empty>}
      <div className="cards">
        {shown.map((s) => (
          <SessionCard key={`${s.configId}:${s.state}`} session={s} masterName={masterLabel(names.data, s.masterId)} onChanged={sessions.reload} />
        ))}
      </div>
      <Credentials />
    </section>
  );
}
