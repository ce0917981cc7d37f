import { useEffect, useState } from "react";
import { get, post, query, type MasterProfile, type PreviewReply } from "../api";
import { enumLabel, money, num, pct, tone } from "../format";
import { FIGURES, labelled } from "../figures";
import { useDebounced, useLoad, useMedia, usePageTitle } from "../hooks";
import { Link, useRouter } from "../router";
import { Empty, ErrorBox, Loading } from "../components/Status";
import { Sparkline } from "../components/Sparkline";
import { useVenues, venueNames } from "./Account";
import { venueName } from "../format";

export const METRICS: { key: string; label: string }[] = [
  { key: "capturable_roi", label: FIGURES.capturableRoi.label },
  { key: "roi", label: FIGURES.roi.label },
  { key: "realized_pnl", label: FIGURES.realizedPnl.label },
  { key: "copiers_pnl", label: FIGURES.copiersPnl.label },
  { key: "assets_under_copy", label: FIGURES.assetsUnderCopy.label },
  { key: "follower_count", label: FIGURES.followerCount.label },
  { key: "max_drawdown", label: FIGURES.maxDrawdown.label },
  { key: "win_rate", label: FIGURES.winRate.label },
  { key: "sharpe_ratio", label: FIGURES.sharpeRatio.label },
  { key: "track_record_days", label: FIGURES.trackRecordDays.label },
  { key: "trades_per_day", label: "Trades per day" },
];

const WINDOWS = ["STATS_WINDOW_7D", "STATS_WINDOW_30D", "STATS_WINDOW_90D", "STATS_WINDOW_ALL_TIME"];
const STRATEGIES = ["STRATEGY_TYPE_SCALPING", "STRATEGY_TYPE_DAY_TRADING", "STRATEGY_TYPE_SWING", "STRATEGY_TYPE_POSITION"];
const RISKS = ["RISK_LEVEL_CONSERVATIVE", "RISK_LEVEL_MODERATE", "RISK_LEVEL_AGGRESSIVE"];
const PAGE_SIZE = 10;
export const SPARK_CAPITAL = "10000";

interface ListReply {
  traders?: MasterProfile[];
  nextPageToken?: string;
  totalSize?: number;
}

/** The equity a 1× copy of the master would have had: the leaderboard's sparkline. */
function useCurve(traderId: string) {
  const [values, setValues] = useState<number[] | null>(null);
  useEffect(() => {
    let live = true;
    post<PreviewReply>(`/v1/master-profiles/${encodeURIComponent(traderId)}:previewCopy`, {
      capital: SPARK_CAPITAL,
      settings: { sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "1" },
    }).then(
      (r) => live && setValues((r.followerEquity ?? []).map((p) => Number(p.equity))),
      () => live && setValues([]),
    );
    return () => {
      live = false;
    };
  }, [traderId]);
  return values;
}

function Curve({ trader }: { trader: MasterProfile }) {
  const values = useCurve(trader.traderId);
  if (values === null) return <span className="muted">…</span>;
  return <Sparkline values={values} label={`Equity of a 1× copy of ${trader.displayName}`} />;
}

function CopyButton({ trader }: { trader: MasterProfile }) {
  const { navigate } = useRouter();
  return (
    <button type="button" className="primary" onClick={() => navigate(`/masters/${encodeURIComponent(trader.traderId)}#follow`)}>
      Copy<span className="sr-only"> {trader.displayName}</span>
    </button>
  );
}

function Figure({ value, kind, signed }: { value: string | number | undefined; kind: "pct" | "money" | "num"; signed?: boolean }) {
  const text = kind === "pct" ? pct(value, 2, signed) : kind === "money" ? money(value, "", signed) : num(value);
  return <span className={signed ? tone(value) : undefined}>{text}</span>;
}

function MasterCard({ t, rank, names }: { t: MasterProfile; rank: number; names: Map<string, string> }) {
  const s = t.stats ?? {};
  return (
    <article className="card master-card" aria-label={t.displayName}>
      <header>
        <span className="rank">#{rank}</span>
        <h2>
          <Link to={`/masters/${encodeURIComponent(t.traderId)}`}>{t.displayName}</Link>
        </h2>
      </header>
      <p className="muted small">
        {enumLabel(t.strategyType)} · {enumLabel(t.riskLevel)} · {(t.venues ?? []).map((v) => venueName(v, names)).join(", ")}
      </p>
      <Curve trader={t} />
      <dl className="mini-facts">
        <div><dt>{labelled("roi")}</dt><dd><Figure value={s.roi} kind="pct" signed /></dd></div>
        <div><dt>{labelled("realizedPnl")}</dt><dd><Figure value={s.realizedPnl} kind="money" signed /></dd></div>
        <div><dt>{labelled("maxDrawdown")}</dt><dd>{pct(s.maxDrawdown)}</dd></div>
        <div><dt>{labelled("winRate")}</dt><dd>{pct(s.winRate, 0)}</dd></div>
        <div><dt>{FIGURES.followerCount.label}</dt><dd>{s.followerCount ?? 0}</dd></div>
        <div><dt>{labelled("assetsUnderCopy")}</dt><dd>{money(s.assetsUnderCopy, "")}</dd></div>
        <div><dt>{labelled("copiersPnl")}</dt><dd><Figure value={s.copiersPnl} kind="money" signed /></dd></div>
        <div><dt>{FIGURES.trackRecordDays.label}</dt><dd>{s.trackRecordDays ?? 0} days</dd></div>
      </dl>
      <div className="actions">
        <CopyButton trader={t} />
        <Link to={`/masters/${encodeURIComponent(t.traderId)}`}>Profile</Link>
      </div>
    </article>
  );
}

function MasterTable({ traders, first, names, caption }: { traders: MasterProfile[]; first: number; names: Map<string, string>; caption: string }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Leaderboard table">
      <table className="leaderboard">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Master</th>
            <th scope="col" title={FIGURES.roi.means}>{labelled("roi")}</th>
            <th scope="col" title={FIGURES.realizedPnl.means}>{labelled("realizedPnl")}</th>
            <th scope="col" title={FIGURES.maxDrawdown.means}>{labelled("maxDrawdown")}</th>
            <th scope="col" title={FIGURES.winRate.means}>{labelled("winRate")}</th>
            <th scope="col" title={FIGURES.followerCount.means}>{FIGURES.followerCount.label}</th>
            <th scope="col" title={FIGURES.assetsUnderCopy.means}>{labelled("assetsUnderCopy")}</th>
            <th scope="col" title={FIGURES.copiersPnl.means}>{labelled("copiersPnl")}</th>
            <th scope="col" title={FIGURES.trackRecordDays.means}>{FIGURES.trackRecordDays.label}</th>
            <th scope="col">1× copy</th>
            <th scope="col"><span className="sr-only">Copy</span></th>
          </tr>
        </thead>
        <tbody>
          {traders.map((t, i) => {
            const s = t.stats ?? {};
            return (
              <tr key={t.traderId}>
                <td>{first + i}</td>
                <th scope="row">
                  <Link to={`/masters/${encodeURIComponent(t.traderId)}`}>{t.displayName}</Link>
                  <div className="muted small">
                    {enumLabel(t.strategyType)} · {enumLabel(t.riskLevel)} · {(t.venues ?? []).map((v) => venueName(v, names)).join(", ")}
                  </div>
                </th>
                <td><Figure value={s.roi} kind="pct" signed /></td>
                <td><Figure value={s.realizedPnl} kind="money" signed /></td>
                <td>{pct(s.maxDrawdown)}</td>
                <td>{pct(s.winRate, 0)}</td>
                <td>{s.followerCount ?? 0}</td>
                <td>{money(s.assetsUnderCopy, "")}</td>
                <td><Figure value={s.copiersPnl} kind="money" signed /></td>
                <td>{s.trackRecordDays ?? 0} d</td>
                <td><Curve trader={t} /></td>
                <td><CopyButton trader={t} /></td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function DiscoveryPage() {
  usePageTitle("Discover masters");
  const phone = useMedia("(max-width: 1100px)"); // below this the table would be squeezed: cards
  const venues = useVenues();
  const names = venueNames(venues.data);
  const [windowName, setWindow] = useState("STATS_WINDOW_30D");
  const [strategy, setStrategy] = useState("");
  const [risk, setRisk] = useState("");
  const [venue, setVenue] = useState("");
  const [minDays, setMinDays] = useState("");
  const [metric, setMetric] = useState("capturable_roi");
  const [direction, setDirection] = useState("desc");
  const [tokens, setTokens] = useState<string[]>([""]); // page tokens of the pages seen so far
  const pageToken = tokens[tokens.length - 1];

  const minDaysFilter = useDebounced(minDays);
  const filters = [windowName, strategy, risk, venue, minDaysFilter, metric, direction];
  useEffect(() => setTokens([""]), filters); // a new question starts at page one

  const list = useLoad(
    () =>
      get<ListReply>(
        `/api/master-traders${query({
          window: windowName,
          orderBy: `${metric} ${direction}`,
          strategyType: strategy,
          riskLevel: risk,
          venueId: venue,
          minTrackRecordDays: minDaysFilter,
          pageSize: PAGE_SIZE,
          pageToken,
        })}`,
      ),
    [...filters, pageToken],
  );
  const traders = list.data?.traders ?? [];
  const first = (tokens.length - 1) * PAGE_SIZE + 1;
  const caption = `Masters ranked by ${METRICS.find((m) => m.key === metric)?.label}, figures over ${enumLabel(windowName).toLowerCase()}`;

  return (
    <section aria-labelledby="discover-title">
      <h1 id="discover-title">Discover masters</h1>
      <p className="muted">Figures over the chosen period, in the masters' quote currency (USDT). “{FIGURES.capturableRoi.label}” is {FIGURES.capturableRoi.means}.</p>
      <form className="filters" aria-label="Leaderboard filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Period
          <select value={windowName} onChange={(e) => setWindow(e.target.value)}>
            {WINDOWS.map((w) => (
              <option key={w} value={w}>
                {enumLabel(w)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Strategy
          <select value={strategy} onChange={(e) => setStrategy(e.target.value)}>
            <option value="">Any</option>
            {STRATEGIES.map((s) => (
              <option key={s} value={s}>
                {enumLabel(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Risk
          <select value={risk} onChange={(e) => setRisk(e.target.value)}>
            <option value="">Any</option>
            {RISKS.map((r) => (
              <option key={r} value={r}>
                {enumLabel(r)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Venue
          <select value={venue} onChange={(e) => setVenue(e.target.value)}>
            <option value="">Any</option>
            {(venues.data ?? []).map((v) => (
              <option key={v.id} value={v.id}>
                {v.displayName}
              </option>
            ))}
          </select>
        </label>
        <label>
          Track record of at least (days)
          <input type="number" min="0" inputMode="numeric" value={minDays} onChange={(e) => setMinDays(e.target.value)} />
        </label>
        <label>
          Sort by
          <select value={metric} onChange={(e) => setMetric(e.target.value)}>
            {METRICS.map((m) => (
              <option key={m.key} value={m.key}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Order
          <select value={direction} onChange={(e) => setDirection(e.target.value)}>
            <option value="desc">Highest first</option>
            <option value="asc">Lowest first</option>
          </select>
        </label>
      </form>

      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.loading && !list.data && <Loading what="the leaderboard" />}
      {list.data && traders.length === 0 && <Empty>No master matches these filters.</Empty>}
      {traders.length > 0 &&
        (phone ? (
          <div className="cards" aria-label={caption} role="list">
            {traders.map((t, i) => (
              <div role="listitem" key={t.traderId}>
                <MasterCard t={t} rank={first + i} names={names} />
              </div>
            ))}
          </div>
        ) : (
          <MasterTable traders={traders} first={first} names={names} caption={caption} />
        ))}
      <nav className="pager" aria-label="Leaderboard pages">
        <button type="button" disabled={tokens.length < 2} onClick={() => setTokens((t) => t.slice(0, -1))}>
          Previous page
        </button>
        <span>
          Page {tokens.length}
          {list.data?.totalSize !== undefined && ` · ${list.data.totalSize} masters`}
        </span>
        <button type="button" disabled={!list.data?.nextPageToken} onClick={() => setTokens((t) => [...t, list.data!.nextPageToken!])}>
          Next page
        </button>
      </nav>
    </section>
  );
}
