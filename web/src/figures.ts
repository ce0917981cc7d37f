// One definition per figure: what each statistic the app shows is called, its unit, and what
// it means. The leaderboard, the profile, the preview, the copies and the portfolio all take
// their labels (and tooltips) from here, so the same word always means the same number.

export interface Figure {
  label: string;
  unit: "%" | "currency" | "count" | "days" | "ratio";
  means: string;
}

export const FIGURES = {
  roi: { label: "Return", unit: "%", means: "the master's own account: PnL after fees of closed trades over its equity at the start of the window" },
  realizedPnl: { label: "PnL", unit: "currency", means: "the master's PnL after fees of trades closed in the window" },
  capturableRoi: { label: "Copy return", unit: "%", means: "what a 1× copy on the master's capital would have made: the copy's delay, fees and default limits included" },
  maxDrawdown: { label: "Max drawdown", unit: "%", means: "the deepest fall of the master's account from a peak, over closed trades" },
  winRate: { label: "Win rate", unit: "%", means: "closed trades that made money" },
  followerCount: { label: "Copiers", unit: "count", means: "people copying the master now" },
  assetsUnderCopy: { label: "AUM", unit: "currency", means: "capital copiers set aside for the master" },
  copiersPnl: { label: "Copiers' PnL", unit: "currency", means: "what every copy of the master made, after the venues' fees" },
  trackRecordDays: { label: "Track record", unit: "days", means: "days since the master's first trade here" },
  sharpeRatio: { label: "Sharpe", unit: "ratio", means: "mean daily return over its standard deviation, annualised" },
  invested: { label: "Invested", unit: "currency", means: "the capital you set aside for the copy, or else the most its open positions tied up at cost" },
  netPnl: { label: "PnL after fees", unit: "currency", means: "closed PnL plus open PnL at the venue's price, less the venue's fees" },
  copyRoi: { label: "ROI", unit: "%", means: "PnL after fees over what was invested" },
  fees: { label: "Fees", unit: "currency", means: "what the venue charged for the copy's fills" },
} satisfies Record<string, Figure>;

export type FigureKey = keyof typeof FIGURES;

/** "PnL (USDT)", "Return (%)": a column or field label with its unit. */
export function labelled(key: FigureKey, currency = "USDT"): string {
  const f: Figure = FIGURES[key];
  const unit = f.unit === "%" ? "%" : f.unit === "currency" ? currency : f.unit === "days" ? "days" : "";
  return unit ? `${f.label} (${unit})` : f.label;
}
