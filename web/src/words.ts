// Trader language, in one place: every reason code the services send, every enum the app
// shows and every API field a form sends, in words. Nothing else in the app shows a raw code.

/** Why a copy was refused, reduced, failed or canceled, or why a request failed. */
const REASONS: Record<string, string> = {
  // copies
  TRADING_HALTED: "trading is halted on your account (kill switch or a circuit breaker)",
  KILL_SWITCH_ACTIVE: "the kill switch is on",
  REDUCE_ONLY: "your account only reduces positions until trading is reset",
  SESSION_PAUSED: "this copy was paused",
  SESSION_FROZEN: "this copy is frozen until its positions are brought back in line",
  SYMBOL_DENIED: "the instrument is on your never-copy list",
  SYMBOL_NOT_ALLOWED: "the instrument is not on your copy-only list",
  MARKET_CLOSED: "the market was closed",
  RISK_LIMIT_EXCEEDED: "it would have gone past one of your risk limits",
  POSITION_LIMIT_EXCEEDED: "it would have gone past your maximum position size",
  LEVERAGE_LIMIT_EXCEEDED: "it would have gone past your maximum leverage",
  MAX_DAILY_LOSS: "your maximum daily loss was reached",
  DAILY_LOSS: "your maximum daily loss was reached",
  MAX_DRAWDOWN: "your maximum drawdown was reached",
  DRAWDOWN: "your maximum drawdown was reached",
  EMERGENCY_STOP: "your emergency stop-loss was hit",
  ORDER_RATE_EXCEEDED: "too many orders in a minute for your limit",
  VOLATILITY_TOO_HIGH: "the instrument moves more than your volatility limit allows",
  CORRELATION_TOO_HIGH: "it moves too much like what you already hold (correlation limit)",
  SLIPPAGE_TOO_HIGH: "the price had moved further than your slippage limit",
  COPY_STALE: "the master's trade was too old to copy",
  LATENCY: "the copy would have arrived later than your latency limit",
  QUANTITY_ROUNDS_TO_ZERO: "your share of the trade is smaller than the venue's smallest order",
  ZERO_QUANTITY: "your share of the trade is smaller than the venue's smallest order",
  BELOW_MIN_QUANTITY: "your share of the trade is smaller than the venue's smallest order",
  BELOW_MIN_NOTIONAL: "your share of the trade is worth less than the venue's minimum order",
  NOTHING_TO_CLOSE: "the master closed a position you do not hold",
  EQUITY_UNKNOWN: "your account's equity could not be read, so the copy could not be sized",
  STOP_DISTANCE_REQUIRED: "risk-percent sizing needs a stop distance",
  RESTING_ORDER_NOT_MIRRORED: "the master's resting order could not be mirrored",
  MISSED_COPY: "the copy was missed",
  VENUE_UNAVAILABLE: "the venue did not answer",
  RATE_LIMITED: "the venue asked us to slow down",
  REJECTED: "the venue rejected the order",
  TIMEOUT: "the venue did not answer in time",
  NETWORK: "the venue could not be reached",
  UNKNOWN_OUTCOME: "the venue's answer was lost; the order is being checked",
  PLATFORM: "a problem on our side",
  // accounts and onboarding
  KYC_NOT_APPROVED: "your identity verification is not approved yet",
  KYC_NOT_PENDING: "there is no identity verification waiting for a decision",
  KYC_ALREADY_APPROVED: "your identity is already verified",
  CONSENT_MISSING: "you have not accepted the risk disclosure yet",
  CONSENT_OUTDATED: "the risk disclosure has changed: read and accept the new version",
  CONSENT_VERSION_UNKNOWN: "that version of the risk disclosure is not the current one",
  SESSION_EXISTS: "this account already copies this master",
  INVALID_SESSION_STATE: "the copy is not in a state that allows this",
  EMAIL_TAKEN: "an account with this email exists already: log in instead",
  INVALID_CREDENTIALS: "wrong email or password",
  BAD_CREDENTIALS: "wrong email or password",
  WEAK_PASSWORD: "choose a longer password",
  INVALID_EMAIL: "that is not an email address",
  TOKEN_EXPIRED: "your session has ended: log in again",
  TOKEN_INVALID: "your session has ended: log in again",
  LOGIN_REQUIRED: "log in first",
  AUTH_REQUIRED: "log in first",
  NOT_OWNER: "that belongs to someone else",
  ROLE_REQUIRED: "your account may not do this",
  RATE_LIMIT: "too many requests: wait a moment",
  ACCOUNT_IN_USE: "the account is used by a copy",
  ACCOUNT_HAS_OPEN_ERRORS: "the account has failed copies waiting",
  CREDENTIAL_NOT_FOUND: "those venue keys are gone",
  INVALID_CREDENTIAL: "check the venue keys",
  INVALID_ACCOUNT: "check the venue account",
  INVALID_SETTINGS: "check the copy settings",
  INVALID_LIMIT: "check the limit",
  INVALID_KYC: "check the identity details",
  INVALID_PREVIEW: "check the preview's figures",
  TRADER_NOT_FOUND: "this master does not exist (any more)",
  SESSION_NOT_FOUND: "this copy does not exist (any more)",
  MASTER_ACCOUNT_NOT_FOUND: "the master's account is gone",
  NOT_A_FOLLOWER_ACCOUNT: "choose one of your copy accounts",
  COMMENT_REQUIRED: "a comment is required",
  ERROR_EVENT_CLOSED: "that failed copy was dealt with already",
  CSRF_HEADER_REQUIRED: "the request was refused for safety: reload the page",
};

/** A reason code in words ("" → ""), never the code itself unless nothing better is known. */
export function reasonWords(reason: string | undefined): string {
  if (!reason) return "";
  return REASONS[reason] ?? reason.toLowerCase().replace(/_/g, " ");
}

/** API field names (snake_case or camelCase, possibly dotted) in words, for errors at a field. */
const FIELDS: Record<string, string> = {
  legal_name: "Legal name", country: "Country", document_type: "Document type", document_number: "Document number",
  email: "Email", password: "Password", display_name: "Name", api_key: "API key", api_secret: "API secret",
  passphrase: "Passphrase", label: "Name for these keys", "venue.id": "Venue", "venue.market_type": "Market",
  capital: "Capital", multiplier: "Multiplier", fixed_notional: "Amount per trade", fixed_quantity: "Quantity per trade",
  risk_percent: "Risk per trade", stop_distance: "Stop distance", allocated_capital: "Capital for this copy",
  max_slippage: "Maximum slippage", follower_account_id: "Your account",
};

export function fieldWords(field: string | undefined): string {
  if (!field) return "";
  const snake = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/^settings\./, "");
  return FIELDS[snake] ?? FIELDS[field] ?? snake.replace(/[._]/g, " ");
}

/** Labels for the enums the app shows. */
const ENUMS: Record<string, string> = {
  SIDE_BUY: "Buy", SIDE_SELL: "Sell",
  SESSION_STATE_ACTIVE: "Copying", SESSION_STATE_PAUSED: "Paused", SESSION_STATE_FROZEN: "Frozen",
  SESSION_STATE_STOPPED: "Stopped",
  TRADING_STATE_ACTIVE: "Trading", TRADING_STATE_REDUCING: "Reducing only", TRADING_STATE_HALTED: "Halted",
  KYC_STATUS_NOT_SUBMITTED: "Not submitted", KYC_STATUS_PENDING: "Being reviewed", KYC_STATUS_APPROVED: "Approved",
  KYC_STATUS_REJECTED: "Rejected",
  STRATEGY_TYPE_SCALPING: "Scalping", STRATEGY_TYPE_DAY_TRADING: "Day trading", STRATEGY_TYPE_SWING: "Swing",
  STRATEGY_TYPE_POSITION: "Position", STRATEGY_TYPE_UNSPECIFIED: "—",
  RISK_LEVEL_CONSERVATIVE: "Low risk", RISK_LEVEL_MODERATE: "Medium risk", RISK_LEVEL_AGGRESSIVE: "High risk",
  MARKET_TYPE_SPOT: "Spot", MARKET_TYPE_PERPETUAL: "Perpetual", MARKET_TYPE_FUTURE: "Futures",
  STATS_WINDOW_7D: "7 days", STATS_WINDOW_30D: "30 days", STATS_WINDOW_90D: "90 days", STATS_WINDOW_ALL_TIME: "All time",
  FOLLOWER_ORDER_STATUS_PENDING: "Sending", FOLLOWER_ORDER_STATUS_PLACED: "Placed", FOLLOWER_ORDER_STATUS_FILLED: "Filled",
  FOLLOWER_ORDER_STATUS_REFUSED: "Refused", FOLLOWER_ORDER_STATUS_FAILED: "Failed",
  FOLLOWER_ORDER_STATUS_CANCELED: "Canceled",
  FEED_OUTAGE_POLICY_FREEZE: "Freeze the copy until the feed is back",
  FEED_OUTAGE_POLICY_FLATTEN: "Close the copy's positions", FEED_OUTAGE_POLICY_RESYNC: "Catch up when the feed is back",
  DISCREPANCY_CAUSE_REFUSED_BY_RISK: "refused by your limits", DISCREPANCY_CAUSE_MANUAL_TRADE: "a trade you made yourself",
  DISCREPANCY_CAUSE_PARTIAL_FILL: "an order filled only in part", DISCREPANCY_CAUSE_MISSED_COPY: "a missed copy",
  DISCREPANCY_CAUSE_UNKNOWN: "not explained",
  BREAKER_KIND_DAILY_LOSS: "Daily loss", BREAKER_KIND_DRAWDOWN: "Drawdown", BREAKER_KIND_LATENCY: "Copy latency",
  BREAKER_KIND_VENUE_FAILURES: "Venue failures", BREAKER_KIND_EMERGENCY_STOP: "Emergency stop-loss",
  ERROR_STATUS_PENDING: "Waiting to retry", ERROR_STATUS_RETRYING: "Retrying", ERROR_STATUS_MANUAL: "Needs a person",
  ERROR_STATUS_RESOLVED: "Resolved", ERROR_STATUS_CANCELED: "Canceled",
  ACCOUNT_ROLE_MASTER: "Master account", ACCOUNT_ROLE_FOLLOWER: "Copy account",
};

const PREFIXES = [
  "FOLLOWER_ORDER_STATUS_", "FEED_OUTAGE_POLICY_", "DISCREPANCY_CAUSE_", "TRADING_STATE_", "SESSION_STATE_",
  "STRATEGY_TYPE_", "DRIFT_POLICY_", "ERROR_STATUS_", "STATS_WINDOW_", "BREAKER_KIND_", "MARKET_TYPE_", "SIZING_MODE_",
  "ACCOUNT_ROLE_", "VENUE_KIND_", "ERROR_TYPE_", "KYC_STATUS_", "RISK_LEVEL_", "ORDER_TYPE_", "SIDE_", "ROLE_",
];

/** An enum value in words: "SESSION_STATE_ACTIVE" → "Copying"; unknown ones lose their prefix. */
export function enumWords(value: string | undefined): string {
  if (!value) return "—";
  if (ENUMS[value]) return ENUMS[value];
  const prefix = PREFIXES.find((p) => value.startsWith(p));
  const words = (prefix ? value.slice(prefix.length) : value).replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Audit-trail actions ("kyc.submitted") in words. */
export function actionWords(action: string | undefined): string {
  return (action ?? "").replace(/[._]/g, " ");
}
