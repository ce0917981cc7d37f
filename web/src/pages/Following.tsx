// My copies: each copy with its money (invested, PnL after fees, ROI, open positions, from the
// venue's own fills), its controls, and a Stop that asks what to do with open positions.
import { useId, useState } from "react";
import { get, patch, post, type CopyPerformance, type CopySession, type CopySessionStats, type CopySettings, type VenueAccount } from "../api";
import { enumLabel, money, num, pct, qty, time, tone } from "../format";
import { FIGURES, labelled } from "../figures";
import { useAction, useEvery, useLoad, usePageTitle } from "../hooks";
import { masterLabel, masterNames } from "../masters";
import { Link } from "../router";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading, Notice } from "../components/Status";
import { Confirm } from "../components/Confirm";
import { FormError, SelectField, TextField } from "../components/Field";
import { cleanSizing, describeSizing, SIZING_MODES, SizingFields } from "../components/SizingFields";
import { useVenues, venueNames } from "./Account";
import { accountLabel } from "./Profile";

const OUTAGE = ["FEED_OUTAGE_POLICY_FREEZE", "FEED_OUTAGE_POLICY_FLATTEN", "FEED_OUTAGE_POLICY_RESYNC"];
const REFRESH_MS = 10_000;

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

/** Whether a maximum slippage is set (a positive decimal): sending copies at it needs one. */
export function hasSlippage(value: string | undefined): boolean {
  const text = (value ?? "").trim();
  return /^\d*\.?\d+$/.test(text) && Number(text) > 0;
}

/** Send each copy as a limit at the slippage tolerance; only with a maximum slippage to set it at. */
function LimitAtTolerance({ settings, onChange }: { settings: CopySettings; onChange: (s: CopySettings) => void }) {
  const hint = useId();
  const available = hasSlippage(settings.maxSlippage);
  return (
    <div className="field full">
      <label className="check">
        <input type="checkbox" name="limit_at_tolerance" checked={available && !!settings.limitAtTolerance} disabled={!available}
          aria-describedby={hint} onChange={(e) => onChange({ ...settings, limitAtTolerance: e.target.checked })} />
        Never fill worse than my maximum slippage (copy as a limit order, not at market)
      </label>
      <p id={hint} className="hint">
        {available
          ? "Each copy of the master's trade is sent as a limit order at the master's price moved by your maximum slippage, filled at once or not at all: no part of it fills at a worse price, and what the market does not fill there at once is not copied."
          : "Set a maximum slippage above to use this: it is the price limit each copy is sent with."}
      </p>
    </div>
  );
}

export function usePerformance(configId: string) {
  const perf = useLoad(() => get<{ performance?: CopyPerformance }>(`/v1/copy-sessions/${encodeURIComponent(configId)}/performance`).then((r) => r.performance ?? {}), [configId]);
  useEvery(REFRESH_MS, perf.reload);
  return perf;
}

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
    const body: CopySettings = {
      ...cleanSizing(settings), symbolMap: parseSymbolMap(symbolMap), allowedSymbols: list(allowed), deniedSymbols: list(denied),
      // Without a maximum slippage there is no price to send the limit at (the service refuses it).
      limitAtTolerance: !!settings.limitAtTolerance && hasSlippage(settings.maxSlippage),
    };
    const mode = SIZING_MODES.find((m) => m.mode === body.sizingMode);
    const mask = ["sizingMode", ...(mode?.field ? [mode.field] : []), "symbolMap", "allowedSymbols", "deniedSymbols", "maxSlippage", "limitAtTolerance", "feedOutagePolicy", "reverse", "mirrorRestingOrders"];
    const done = await action.run(() => patch(`/v1/copy-sessions/${encodeURIComponent(id)}/settings?updateMask=${mask.join(",")}`, body));
    if (done) {
      setSaved(true);
      onSaved();
    }
  }

  return (
    <form className="grid-form" onSubmit={save} aria-label="Copy settings">
      <SizingFields settings={settings} onChange={setSettings} error={action.error} />
      <div className="field">
        <label htmlFor={`map-${id}`}>Trade on other instruments (one per line: master's =&gt; yours)</label>
        <textarea id={`map-${id}`} rows={2} value={symbolMap} onChange={(e) => setSymbolMap(e.target.value)} placeholder="BTC/USDT => BTC/USDT:USDT" />
      </div>
      <TextField label="Copy only these instruments (blank: all)" name="allowed_symbols" value={allowed} onChange={setAllowed} placeholder="BTC/USDT, ETH/USDT" error={action.error} />
      <TextField label="Never copy these instruments" name="denied_symbols" value={denied} onChange={setDenied} error={action.error} />
      <TextField label="Maximum slippage (0.01 = 1%)" name="max_slippage" inputMode="decimal" value={settings.maxSlippage ?? ""} onChange={(v) => setSettings({ ...settings, maxSlippage: v })} error={action.error} />
      <LimitAtTolerance settings={settings} onChange={setSettings} />
      <SelectField label="If the master's trades stop arriving" name="feed_outage_policy" value={settings.feedOutagePolicy ?? "FEED_OUTAGE_POLICY_FREEZE"}
        onChange={(v) => setSettings({ ...settings, feedOutagePolicy: v })} error={action.error}>
        {OUTAGE.map((o) => (
          <option key={o} value={o}>
            {enumLabel(o)}
          </option>
        ))}
      </SelectField>
      <label className="check">
        <input type="checkbox" checked={!!settings.reverse} onChange={(e) => setSettings({ ...settings, reverse: e.target.checked })} />
        Trade against the master (sell when they buy)
      </label>
      <label className="check">
        <input type="checkbox" checked={!!settings.mirrorRestingOrders} onChange={(e) => setSettings({ ...settings, mirrorRestingOrders: e.target.checked })} />
        Copy the master's limit orders as limit orders, not their fills at market
      </label>
      <div className="actions full">
        <button type="submit" disabled={action.busy}>
          {action.busy ? "Saving…" : "Save settings"}
        </button>
      </div>
      <div className="full">
        <FormError error={action.error} fields={["multiplier", "fixed_notional", "fixed_quantity", "risk_percent", "allocated_capital", "max_slippage", "allowed_symbols", "denied_symbols"]} />
        {saved && <Notice>Saved: the next copies use these settings.</Notice>}
      </div>
    </form>
  );
}

export function PositionsTable({ perf, label }: { perf: CopyPerformance; label: string }) {
  const positions = perf.positions ?? [];
  if (positions.length === 0) return <p className="muted small">No open position.</p>;
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={label}>
      <table>
        <thead>
          <tr>
            <th scope="col">Instrument</th>
            <th scope="col">Quantity</th>
            <th scope="col">Entry price</th>
            <th scope="col">Price now</th>
            <th scope="col">Open PnL ({perf.currency || "USDT"})</th>
          </tr>
        </thead>
        <tbody>
          {positions.map((p) => (
            <tr key={p.symbol}>
              <th scope="row">{p.symbol}</th>
              <td>{qty(p.quantity)}</td>
              <td>{num(p.entryPrice)}</td>
              <td>{num(p.markPrice)}</td>
              <td className={tone(p.unrealizedPnl)}>{money(p.unrealizedPnl, "", true)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MoneyFacts({ perf }: { perf: CopyPerformance }) {
  const currency = perf.currency || "USDT";
  return (
    <dl className="facts money" data-testid="copy-money">
      <div title={FIGURES.invested.means}>
        <dt>{labelled("invested", currency)}</dt>
        <dd>{money(perf.invested, "")}</dd>
      </div>
      <div title={FIGURES.netPnl.means}>
        <dt>{labelled("netPnl", currency)}</dt>
        <dd className={tone(perf.netPnl)} data-testid="pnl-after-fees">
          {money(perf.netPnl, "", true, 4)}
        </dd>
      </div>
      <div title={FIGURES.copyRoi.means}>
        <dt>{labelled("copyRoi")}</dt>
        <dd className={tone(perf.roi)}>{pct(perf.roi, 2, true)}</dd>
      </div>
      <div title={FIGURES.fees.means}>
        <dt>{labelled("fees", currency)}</dt>
        <dd data-testid="copy-fees">{money(perf.fees, "", false, 4)}</dd>
      </div>
    </dl>
  );
}

function StopDialog({ name, busy, onStop, onCancel }: { name: string; busy: boolean; onStop: (close: boolean) => void; onCancel: () => void }) {
  const [choice, setChoice] = useState<"" | "close" | "keep">("");
  return (
    <Confirm title={`Stop copying ${name}?`} confirmLabel="Stop copying" danger busy={busy} disabled={!choice} onConfirm={() => onStop(choice === "close")} onCancel={onCancel}>
      <p>No more of {name}'s trades will be copied. What should happen to what this copy holds?</p>
      <fieldset className="choices">
        <legend>Open positions</legend>
        <label className="check">
          <input type="radio" name="positions" value="close" checked={choice === "close"} onChange={() => setChoice("close")} /> Close positions now, at market
        </label>
        <label className="check">
          <input type="radio" name="positions" value="keep" checked={choice === "keep"} onChange={() => setChoice("keep")} /> Keep positions: I manage them myself
        </label>
      </fieldset>
    </Confirm>
  );
}

function CopyCard({ session, masterName, account, onChanged, onStopped }: {
  session: CopySession;
  masterName: string;
  account: string;
  onChanged: () => void;
  onStopped: (message: string) => void;
}) {
  const status = useLoad(() => get<{ session: CopySession; stats?: CopySessionStats }>(`/v1/copy-sessions/${encodeURIComponent(session.configId)}`), [session.configId, session.state]);
  const perf = usePerformance(session.configId);
  const action = useAction();
  const [editing, setEditing] = useState(false);
  const [stopping, setStopping] = useState(false);
  const state = session.state ?? "";
  const live = state !== "SESSION_STATE_STOPPED";
  const act = (verb: string) => async () => {
    if (await action.run(() => post(`/v1/copy-sessions/${encodeURIComponent(session.configId)}:${verb}`, { reason: `${verb} by the follower` }))) onChanged();
  };
  async function stop(close: boolean) {
    const reply = await action.run(() =>
      post<{ closeResolution?: string }>(`/v1/copy-sessions/${encodeURIComponent(session.configId)}:stop`, { reason: "stopped by the follower", closePositions: close }),
    );
    setStopping(false);
    if (!reply) return;
    const closed = reply.closeResolution ?? "";
    onStopped(
      !close
        ? `You stopped copying ${masterName}. Its positions are kept as they are.`
        : closed === "flattened"
          ? `You stopped copying ${masterName}, and its positions are closed.`
          : closed === "none"
            ? `You stopped copying ${masterName}. It held no position to close.`
          : closed.includes("part")
            ? `You stopped copying ${masterName}. Some of its positions could not be closed: see the stopped copy.`
            : `You stopped copying ${masterName}, but its positions could not be closed: close them at your venue.`,
    );
    perf.reload();
    onChanged();
  }
  const stats = status.data?.stats;
  return (
    <article className="card copy-card" aria-label={`Copy of ${masterName}`}>
      <header>
        <h2>{masterName}</h2>
        <span className={`badge ${state.toLowerCase()}`}>{enumLabel(state)}</span>
      </header>
      <p className="muted small">
        {describeSizing(session.settings)} · to {account} · since {time(session.createTime)}
        {session.stateReason && !live ? ` · ${session.stateReason}` : ""}
      </p>
      <ErrorBox error={perf.error} onRetry={perf.reload} />
      {perf.loading && !perf.data && <Loading what="what this copy made" />}
      {perf.data && (
        <>
          <MoneyFacts perf={perf.data} />
          <PositionsTable perf={perf.data} label={`Open positions copying ${masterName}`} />
        </>
      )}
      {stats && (
        <p className="small muted">
          {stats.masterFillsSeen ?? 0} master trades · {stats.ordersFilled ?? 0} copied · {stats.copiesRefused ?? 0} not copied · {stats.copiesFailed ?? 0} failed
          {stats.latencyP50Ms ? ` · typical delay ${num(stats.latencyP50Ms, 0)} ms` : ""}
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
          <button type="button" className="danger" onClick={() => setStopping(true)} disabled={action.busy}>
            Stop
          </button>
        )}
        {live && (
          <button type="button" aria-expanded={editing} onClick={() => setEditing((e) => !e)}>
            {editing ? "Close settings" : "Settings"}
          </button>
        )}
        <Link to="/dashboard">Live</Link>
      </div>
      <ErrorBox error={action.error} />
      {stopping && <StopDialog name={masterName} busy={action.busy} onStop={stop} onCancel={() => setStopping(false)} />}
      {editing && <SettingsForm session={session} onSaved={onChanged} />}
    </article>
  );
}

export function CopiesPage() {
  usePageTitle("My copies");
  const { user } = useSession();
  const sessions = useLoad(() => get<{ sessions?: CopySession[] }>(`/v1/copy-sessions?followerId=${encodeURIComponent(user.userId)}&pageSize=100`), [user.userId]);
  const accounts = useLoad(() => get<{ accounts?: VenueAccount[] }>(`/v1/venue-accounts`), []);
  const venues = useVenues();
  const names = useLoad(masterNames, []);
  const [showStopped, setShowStopped] = useState(false);
  const [notice, setNotice] = useState("");
  const all = sessions.data?.sessions ?? [];
  const shown = all.filter((s) => showStopped || s.state !== "SESSION_STATE_STOPPED");
  const accountName = (id: string | undefined) => {
    const a = (accounts.data?.accounts ?? []).find((x) => x.accountId === id);
    return a ? accountLabel(a, venueNames(venues.data)) : "your account";
  };
  return (
    <section aria-labelledby="copies-title">
      <h1 id="copies-title">My copies</h1>
      <p className="muted small">Money figures come from your venue's own fills, fees included, and refresh every few seconds.</p>
      <label className="check">
        <input type="checkbox" checked={showStopped} onChange={(e) => setShowStopped(e.target.checked)} /> Show stopped copies
      </label>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBox error={sessions.error} onRetry={sessions.reload} />
      {sessions.loading && !sessions.data && <Loading what="your copies" />}
      {sessions.data && shown.length === 0 && (
        <Empty>
          You are not copying anyone. <Link to="/discover">Find a master</Link>.
        </Empty>
      )}
      <div className="cards wide">
        {shown.map((s) => (
          <CopyCard key={s.configId} session={s} masterName={masterLabel(names.data, s.masterId)} account={accountName(s.followerAccountId)}
            onChanged={sessions.reload} onStopped={setNotice} />
        ))}
      </div>
    </section>
  );
}
