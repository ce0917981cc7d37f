// The gateway's REST+JSON API, as the browser uses it: the session lives in an httpOnly cookie
// (set by the login below, never readable here), and every state-changing call carries the
// CSRF header the gateway asks of cookie-authenticated writes.

import { fieldWords, reasonWords } from "./words";

export const CSRF_HEADER = "X-Copytrade-Csrf";

export interface ErrorInfo {
  reason?: string;
  domain?: string;
  metadata?: Record<string, string>;
}

/** A gateway error: its HTTP status, the service's message and the ErrorInfo reason. */
export class ApiError extends Error {
  status: number;
  reason: string;
  metadata: Record<string, string>;

  constructor(status: number, message: string, reason = "", metadata: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.metadata = metadata;
  }
}

/** The form field an error is about (its ErrorInfo metadata names it), as the API spells it. */
export function errorField(err: unknown): string {
  return err instanceof ApiError ? (err.metadata.field ?? "") : "";
}

/** An error in words a person can act on: no codes, no snake_case field names. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const words = reasonWords(err.reason);
    // The service's own sentence says the most; its field names are put into words.
    let message = (err.message || "").replace(/\b[a-z]+(?:[._][a-z]+)+\b/g, (name) => fieldWords(name).toLowerCase());
    if (!message || /^\d{3}\b/.test(message)) message = words || "something went wrong";
    else if (words && ["INVALID_CREDENTIALS", "BAD_CREDENTIALS", "EMAIL_TAKEN", "SESSION_EXISTS"].includes(err.reason)) message = words;
    if (err.status === 429) message = "too many requests: wait a moment and try again";
    if (err.status >= 500 && !err.reason) message = "the service had a problem; try again in a moment";
    return message.charAt(0).toUpperCase() + message.slice(1);
  }
  if (err instanceof TypeError) return "The service could not be reached: check your connection and try again";
  return err instanceof Error ? err.message : String(err);
}

let onUnauthenticated: (() => void) | null = null;

/** Called when the gateway says the session is gone (expired, or logged out elsewhere). */
export function setUnauthenticatedHandler(handler: (() => void) | null): void {
  onUnauthenticated = handler;
}

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const allHeaders: Record<string, string> = { Accept: "application/json", ...headers };
  if (body !== undefined) allHeaders["Content-Type"] = "application/json";
  if (method !== "GET") allHeaders[CSRF_HEADER] = "1";
  let reply: Response;
  reply = await fetch(path, {
    method,
    headers: allHeaders,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await reply.text();
  let data: any = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 200) };
    }
  }
  if (!reply.ok) {
    const info: ErrorInfo = (data.details ?? []).find((d: ErrorInfo) => d && d.reason) ?? {};
    const err = new ApiError(reply.status, data.message || `${reply.status} ${reply.statusText}`, info.reason ?? "",
      info.metadata ?? {});
    if (reply.status === 401 && !path.startsWith("/v1/auth:")) onUnauthenticated?.();
    throw err;
  }
  return data as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => api<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") search.set(k, String(v));
  const s = search.toString();
  return s ? `?${s}` : "";
}

// ---- types (JSON names as the gateway sends them) ----

export interface User {
  userId: string;
  email: string;
  displayName?: string;
  roles?: string[];
}

export interface LoginReply {
  user: User;
  expireTime?: string;
}

export interface Venue {
  kind?: string;
  id?: string;
  marketType?: string;
}

export interface PerformanceStats {
  window?: string;
  roi?: string;
  capturableRoi?: string;
  realizedPnl?: string;
  unrealizedPnl?: string;
  winRate?: string;
  profitFactor?: string;
  averageWin?: string;
  averageLoss?: string;
  maxDrawdown?: string;
  sharpeRatio?: string;
  sortinoRatio?: string;
  volatility?: string;
  averageHoldingHours?: number;
  tradesPerDay?: number;
  tradeCount?: string;
  followerCount?: number;
  assetsUnderCopy?: string;
  copiersPnl?: string;
  trackRecordDays?: number;
  updateTime?: string;
  /** Figures the history is too short for, each with what it needs (they are empty). */
  notEnoughHistory?: InsufficientHistory[];
  /** Where the copy return's delay and slippage come from: measured copies, or the model. */
  capturableBasis?: string;
  capturableCopyCount?: string;
  capturableDelayMs?: string;
  capturableSlippageBps?: string;
}

export interface InsufficientHistory {
  field?: string;
  observation?: string;
  required?: number;
  observed?: number;
}

export interface MasterProfile {
  traderId: string;
  userId?: string;
  displayName?: string;
  strategyType?: string;
  observedStrategyType?: string;
  riskLevel?: string;
  bio?: string;
  venues?: Venue[];
  masterAccountIds?: string[];
  public?: boolean;
  stats?: PerformanceStats;
}

export interface SymbolMapping {
  masterSymbol?: string;
  followerSymbol?: string;
  contractRatio?: string;
}

export interface CopySettings {
  sizingMode?: string;
  fixedQuantity?: string;
  multiplier?: string;
  fixedNotional?: string;
  riskPercent?: string;
  stopDistance?: string;
  allocatedCapital?: string;
  symbolMap?: SymbolMapping[];
  reverse?: boolean;
  mirrorRestingOrders?: boolean;
  allowedSymbols?: string[];
  deniedSymbols?: string[];
  maxSlippage?: string;
  limitAtTolerance?: boolean; // each fill's copy as an IOC limit at the master's price moved by maxSlippage
  copyOpenPositions?: boolean;
  feedOutagePolicy?: string;
  driftPolicy?: string;
}

export interface CopySession {
  configId: string;
  followerId?: string;
  followerAccountId?: string;
  masterId?: string;
  masterAccountId?: string;
  settings?: CopySettings;
  state?: string;
  stateReason?: string;
  createTime?: string;
  updateTime?: string;
}

export interface CopySessionStats {
  masterFillsSeen?: string;
  ordersPlaced?: string;
  ordersFilled?: string;
  copiesRefused?: string;
  copiesFailed?: string;
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  lastCopyTime?: string;
}

export interface Refusal {
  reason?: string;
  domain?: string;
  message?: string;
  metadata?: Record<string, string>;
}

export interface FollowerOrder {
  orderId: string;
  configId?: string;
  followerId?: string;
  masterFillId?: string;
  masterOrderId?: string; // set on a mirrored resting order
  cancelReason?: string;
  symbol?: string;
  side?: string;
  quantity?: string;
  price?: string;
  filledQuantity?: string;
  averageFillPrice?: string;
  status?: string;
  refusal?: Refusal;
  reduction?: Refusal; // risk approved less than sized: the limit, sized_quantity and approved_quantity
  errorKind?: string;
  errorMessage?: string;
  masterFillTime?: string;
  receiveTime?: string;
  riskDecideTime?: string;
  sendTime?: string;
  ackTime?: string;
}

export interface CopyEvent {
  eventId: string;
  occurTime?: string;
  placed?: { order: FollowerOrder };
  filled?: { order: FollowerOrder; quantity?: string; price?: string; executeTime?: string };
  refused?: { order: FollowerOrder; refusal?: Refusal };
  failed?: { order: FollowerOrder; errorKind?: string; errorMessage?: string; willRetry?: boolean };
  canceled?: { order: FollowerOrder; reason?: string };
  /** The order's ack minus its master fill, in ms, as the service measured it; absent (0) until
   * both are known, and on events from before the service sent it. */
  copyLatencyMs?: number;
}

export interface RiskLimits {
  maxDailyLoss?: string;
  maxDrawdown?: string;
  maxPositionSize?: string;
  maxLeverage?: string;
  stopLossEnabled?: boolean;
  takeProfitEnabled?: boolean;
  correlationLimit?: string;
  volatilityLimit?: string;
  circuitBreakerEnabled?: boolean;
  emergencyStopLoss?: string;
  maxSlippage?: string;
  maxLatencyMs?: number;
  maxOrdersPerMinute?: number;
  timezone?: string;
}

export interface TradingStateInfo {
  scope?: { userId?: string; masterId?: string };
  state?: string;
  reason?: string;
  changedBy?: string;
  changeTime?: string;
  killSwitchActive?: boolean;
}

export interface TradingStateReply {
  state?: TradingStateInfo;
  effectiveState?: string;
}

export interface CircuitBreaker {
  kind?: string;
  tripped?: boolean;
  tripTime?: string;
  value?: string;
  threshold?: string;
  reason?: string;
}

export interface VenueAccount {
  accountId: string;
  userId?: string;
  role?: string;
  venue?: Venue;
  credentialId?: string;
  label?: string;
  watchFills?: boolean;
}

export interface Credential {
  credentialId: string;
  venue?: Venue;
  label?: string;
  maskedApiKey?: string;
  createTime?: string;
}

export interface EquityPoint {
  time?: string;
  equity?: string;
}

export interface PreviewTrade {
  masterFillId?: string;
  time?: string;
  symbol?: string;
  side?: string;
  masterQuantity?: string;
  followerQuantity?: string;
  masterPrice?: string;
  followerPrice?: string;
  refusal?: Refusal;
}

export interface PreviewReply {
  followerEquity?: EquityPoint[];
  trades?: PreviewTrade[];
  masterReturn?: string;
  followerReturn?: string;
  captureGap?: string;
  tradesTaken?: number;
  tradesRefused?: number;
}

export interface Discrepancy {
  symbol?: string;
  followerPosition?: string;
  targetPosition?: string;
  difference?: string;
  cause?: string;
}

export interface ReconciliationResult {
  resultId?: string;
  configId?: string;
  runTime?: string;
  inSync?: boolean;
  discrepancies?: Discrepancy[];
  resolution?: string;
}

export interface ErrorEvent {
  errorId: string;
  errorType?: string;
  status?: string;
  venueId?: string;
  followerId?: string;
  configId?: string;
  orderId?: string;
  message?: string;
  attemptCount?: number;
  nextAttemptTime?: string;
  createTime?: string;
}

export interface AuditEvent {
  sequence?: string;
  occurTime?: string;
  actor?: string;
  action?: string;
  resource?: string;
  subjectUserId?: string;
  detailsJson?: string;
}

export interface Kyc {
  userId?: string;
  status?: string;
  legalName?: string;
  country?: string;
  documentType?: string;
  submitTime?: string;
  decideTime?: string;
  decidedBy?: string;
  comment?: string;
}

export interface SupportedVenue {
  kind?: string;
  id: string;
  displayName?: string;
  marketTypes?: string[];
  needsPassphrase?: boolean;
  apiKeyLabel?: string;
  apiSecretLabel?: string;
  passphraseLabel?: string;
}

export interface CopyPosition {
  symbol?: string;
  quantity?: string;
  entryPrice?: string;
  markPrice?: string;
  unrealizedPnl?: string;
}

export interface CopyPerformance {
  configId?: string;
  currency?: string;
  invested?: string;
  realizedPnl?: string;
  unrealizedPnl?: string;
  fees?: string;
  netPnl?: string;
  roi?: string;
  volume?: string;
  fillCount?: number;
  positions?: CopyPosition[];
  curve?: { time?: string; netPnl?: string }[];
}

export interface MasterPosition {
  symbol?: string;
  quantity?: string;
  entryPrice?: string;
  lastPrice?: string;
  openTime?: string;
}

export interface MasterTrade {
  tradeId?: string;
  time?: string;
  symbol?: string;
  side?: string;
  quantity?: string;
  price?: string;
  fee?: string;
  realizedPnl?: string;
}

export interface MasterActivity {
  positions?: MasterPosition[];
  trades?: MasterTrade[];
  totalTrades?: string;
}

export interface Eligibility {
  eligible?: boolean;
  refusal?: Refusal;
}
