import { useEffect, useState } from "react";
import { get, post, query, type MasterProfile, type PreviewReply } from "../api";
import { enumLabel, num, pct } from "../format";
import { useDebounced, useLoad } from "../hooks";
import { Link } from "../router";
import { Empty, ErrorBox, Loading } from "../components/Status";
import { Sparkline } from "../components/Sparkline";

export const METRICS: { key: string; label: string; lowerIsBetter?: boolean }[] = [
  { key: "capturable_roi", label: "Capturable return" },
  { key: "roi", label: "Return" },
  { key: "sharpe_ratio", label: "Sharpe" },
  { key: "sortino_ratio", label: "Sortino" },
  { key: "max_drawdown", label: "Max drawdown", lowerIsBetter: true },
  { key: "win_rate", label: "Win rate" },
  { key: "profit_factor", label: "Profit factor" },
  { key: "realized_pnl", label: "Realized PnL" },
  { key: "volatility", label: "Volatility", lowerIsBetter: true },
  { key: "follower_count", label: "Followers" },
  { key: "assets_under_copy", label: "Assets under copy" },
  { key: "track_record_days", label: "Track record" },
  { key: "trades_per_day", label: "Trades per day" },
  { key: "trade_count", label: "Trades" },
];

const WINDOWS = ["STATS_WINDOW_ALL_TIME", "STATS_WINDOW_7D", "STATS_WINDOW_30D", "STATS_WINDOW_90D"];
const STRATEGIES = ["STRATEGY_TYPE_SCALPING", "STRATEGY_TYPE_DAY_TRADING", "STRATEGY_TYPE_SWING", "STRATEGY_TYPE_POSITION"];
const RISKS = ["RISK_LEVEL_CONSERVATIVE", "RISK_LEVEL_MODERATE", "RISK_LEVEL_AGGRESSIVE"];
const PAGE_SIZE = 10;
export const SPARK_CAPITAL = "10000";

interface ListReply {
  traders?: MasterProfile[];
  nextPageToken?: string;
  totalSize?: number;
}

/** The equity a default 1× follower would have had: the leaderboard's sparkline. */
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
  return <Sparkline values={values} label={`equity curve of ${trader.displayName}`} />;
}

export function DiscoveryPage() {
  const [windowName, setWindow] = useState(WINDOWS[0]);
  const [strategy, setStrategy] = useState("");
  const [risk, setRisk] = useState("");
  const [venue, setVenue] = useState("");
  const [minDays, setMinDays] = useState("");
  const [metric, setMetric] = useState("capturable_roi");
  const [direction, setDirection] = useState("desc");
  const [tokens, setTokens] = useState<string[]>([""]); // page tokens of the pages seen so far
  const pageToken = tokens[tokens.length - 1];

  const venueFilter = useDebounced(venue.trim());
  const minDaysFilter = useDebounced(minDays);
  const filters = [windowName, strategy, risk, venueFilter, minDaysFilter, metric, direction];
  useEffect(() => setTokens([""]), filters); // a new question starts at page one

  const list = useLoad(
    () =>
      get<ListReply>(
        `/api/master-traders${query({
          window: windowName,
          orderBy: `${metric} ${direction}`,
          strategyType: strategy,
          riskLevel: risk,
          venueId: venueFilter,
          minTrackRecordDays: minDaysFilter,
          pageSize: PAGE_SIZE,
          pageToken,
        })}`,
      ),
    [...filters, pageToken],
  );
  const traders = list.data?.traders ?? [];

  return (
    <section aria-labelledby="discover-title">
      <h1 id="discover-title">Discover masters</h1>
      <form className="filters" aria-label="Leaderboard filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Window
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
            <option value="">any</option>
            {STRATEGIES.map((s) => (
              <option key={s} value={s}>
                {enumLabel(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Risk level
          <select value={risk} onChange={(e) => setRisk(e.target.value)}>
            <option value="">any</option>
            {RISKS.map((r) => (
              <option key={r} value={r}>
                {enumLabel(r)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Venue
          <input value={venue} placeholder="e.g. binance" onChange={(e) => setVenue(e.target.value)} />
        </label>
        <label>
          Track record (days, at least)
          <input type="number" min="0" value={minDays} onChange={(e) => setMinDays(e.target.value)} />
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
            <option value="desc">highest first</option>
            <option value="asc">lowest first</option>
          </select>
        </label>
      </form>

      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.loading && !list.data && <Loading what="the leaderboard" />}
      {list.data && traders.length === 0 && <Empty>No master matches these filters.</Empty>}
      {traders.length > 0 && (
        <div className="table-wrap">
          <table className="leaderboard">
            <caption className="sr-only">Masters ranked by {METRICS.find((m) => m.key === metric)?.label}</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Master</th>
                <th scope="col">Strategy</th>
                <th scope="col">Risk</th>
                <th scope="col">Capturable return</th>
                <th scope="col">Return</th>
                <th scope="col">Max drawdown</th>
                <th scope="col">Win rate</th>
                <th scope="col">Sharpe</th>
                <th scope="col">Followers</th>
                <th scope="col">Track record</th>
                <th scope="col">Equity (1× copy)</th>
              </tr>
            </thead>
            <tbody>
              {traders.map((t, i) => (
                <tr key={t.traderId}>
                  <td>{(tokens.length - 1) * PAGE_SIZE + i + 1}</td>
                  <th scope="row">
                    <Link to={`/masters/${encodeURIComponent(t.traderId)}`}>{t.displayName || t.traderId}</Link>
                    <div className="muted small">{(t.venues ?? []).map((v) => `${v.id} ${enumLabel(v.marketType)}`).join(", ")}</div>
                  </th>
                  <td>{enumLabel(t.strategyType)}</td>
                  <td>{enumLabel(t.riskLevel)}</td>
                  <td>{pct(t.stats?.capturableRoi)}</td>
                  <td>{pct(t.stats?.roi)}</td>
                  <td>{pct(t.stats?.maxDrawdown)}</td>
                  <td>{pct(t.stats?.winRate, 1)}</td>
                  <td>{num(t.stats?.sharpeRatio)}</td>
                  <td>{t.stats?.followerCount ?? 0}</td>
                  <td>{t.stats?.trackRecordDays ?? 0} d</td>
                  <td>
                    <Curve trader={t} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
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
