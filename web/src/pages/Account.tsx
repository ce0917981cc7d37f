// Getting ready to copy, in the order the platform asks for it: identity verified (KYC), the
// current risk disclosure accepted, venue keys connected. Each step says where it stands.
import { useMemo, useState } from "react";
import { get, post, type Credential, type Eligibility, type Kyc, type SupportedVenue, type VenueAccount } from "../api";
import { enumLabel, time, venueName } from "../format";
import { useAction, useEvery, useLoad, usePageTitle } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading, Notice } from "../components/Status";
import { FormError, SelectField, TextField } from "../components/Field";

const COUNTRIES = ["AT", "AU", "BE", "BR", "CA", "CH", "CY", "CZ", "DE", "DK", "ES", "FI", "FR", "GB", "GR", "HK", "IE", "IN", "IT", "JP",
  "LU", "MT", "MX", "NL", "NO", "NZ", "PL", "PT", "SE", "SG", "ZA"];
const DOCUMENTS = [
  { value: "passport", label: "Passport" },
  { value: "national_id", label: "National identity card" },
  { value: "driving_licence", label: "Driving licence" },
];

export function useVenues() {
  return useLoad(() => get<{ venues?: SupportedVenue[] }>("/v1/supported-venues").then((r) => r.venues ?? []), []);
}

export function venueNames(venues: SupportedVenue[] | undefined): Map<string, string> {
  return new Map((venues ?? []).map((v) => [v.id, v.displayName ?? v.id]));
}

function Step({ n, title, done, children }: { n: number; title: string; done: boolean; children: React.ReactNode }) {
  return (
    <section className={`step card ${done ? "done" : ""}`} aria-labelledby={`step-${n}`}>
      <header>
        <span className="step-n" aria-hidden="true">{done ? "✓" : n}</span>
        <h2 id={`step-${n}`}>
          {title}
          <span className="sr-only">{done ? " (done)" : " (to do)"}</span>
        </h2>
      </header>
      {children}
    </section>
  );
}

function KycStep({ kyc, onChanged }: { kyc: Kyc | undefined; onChanged: () => void }) {
  const { user } = useSession();
  const [form, setForm] = useState({ legalName: "", country: "", documentType: "passport", documentNumber: "" });
  const action = useAction();
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  const status = kyc?.status ?? "KYC_STATUS_NOT_SUBMITTED";
  const countryName = useMemo(() => {
    try {
      const names = new Intl.DisplayNames([navigator.language || "en"], { type: "region" });
      return (code: string) => names.of(code) ?? code;
    } catch {
      return (code: string) => code;
    }
  }, []);
  const countries = useMemo(() => [...COUNTRIES].sort((a, b) => countryName(a).localeCompare(countryName(b))), [countryName]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (await action.run(() => post(`/v1/users/${encodeURIComponent(user.userId)}/kyc`, form))) onChanged();
  }

  if (status === "KYC_STATUS_APPROVED") return <p>Your identity is verified{kyc?.decideTime ? ` (${time(kyc.decideTime)})` : ""}.</p>;
  if (status === "KYC_STATUS_PENDING")
    return (
      <p role="status" data-testid="kyc-status">
        <span className="badge paused">Being reviewed</span> We received your details {time(kyc?.submitTime)}. A person checks them; this page
        updates by itself when they have decided.
      </p>
    );
  const fields = ["legal_name", "country", "document_type", "document_number"];
  return (
    <>
      {status === "KYC_STATUS_REJECTED" && (
        <div className="status error" role="alert">
          Your verification was not accepted{kyc?.comment ? `: ${kyc.comment}` : ""}. Check the details and send them again.
        </div>
      )}
      <p className="muted small">We are required to know who you are before you trade. Your document number is stored encrypted.</p>
      <form className="grid-form" onSubmit={submit} aria-label="Verify your identity">
        <TextField label="Legal name (as on the document)" name="legal_name" autoComplete="name" required value={form.legalName} onChange={set("legalName")} error={action.error} />
        <SelectField label="Country of residence" name="country" required value={form.country} onChange={set("country")} error={action.error}>
          <option value="">Choose…</option>
          {countries.map((c) => (
            <option key={c} value={c}>
              {countryName(c)}
            </option>
          ))}
        </SelectField>
        <SelectField label="Document" name="document_type" value={form.documentType} onChange={set("documentType")} error={action.error}>
          {DOCUMENTS.map((d) => (
            <option key={d.value} value={d.value}>
              {d.label}
            </option>
          ))}
        </SelectField>
        <TextField label="Document number" name="document_number" required autoComplete="off" value={form.documentNumber} onChange={set("documentNumber")} error={action.error} />
        <div className="actions full">
          <button type="submit" className="primary" disabled={action.busy}>
            {action.busy ? "Sending…" : "Send for verification"}
          </button>
        </div>
      </form>
      <FormError error={action.error} fields={fields} />
    </>
  );
}

export const DISCLOSURE = [
  "Copy trading places real orders on your venue account, sized by the settings you choose, whenever the master you copy trades.",
  "You can lose some or all of the money in that account. A master's past results do not promise future ones.",
  "Copies arrive after the master's trade, at the price the market has then, and pay the venue's fees: your results differ from the master's.",
  "Your risk limits can reduce or refuse copies. When they do, the copy says why.",
  "You can pause or stop a copy at any time, and choose whether its open positions are closed.",
];

function DisclosureStep({ eligibility, kycDone, onChanged }: { eligibility: Eligibility | undefined; kycDone: boolean; onChanged: () => void }) {
  const { user } = useSession();
  const [read, setRead] = useState(false);
  const action = useAction();
  const refusal = eligibility?.refusal;
  const version = refusal?.metadata?.version ?? "";
  const needed = refusal?.reason === "CONSENT_MISSING" || refusal?.reason === "CONSENT_OUTDATED";
  if (eligibility?.eligible) return <p>You accepted the current risk disclosure.</p>;
  if (!kycDone || !needed) return <p className="muted">You can read and accept the risk disclosure once your identity is verified.</p>;

  async function accept() {
    if (await action.run(() => post(`/v1/users/${encodeURIComponent(user.userId)}/consents`, { document: refusal?.metadata?.document ?? "risk_disclosure", version }))) onChanged();
  }
  return (
    <>
      {refusal?.reason === "CONSENT_OUTDATED" && <Notice>The disclosure has changed since you last accepted it.</Notice>}
      <article className="disclosure" aria-label={`Risk disclosure, version ${version}`}>
        <h3>Risk disclosure · version {version}</h3>
        <ul>
          {DISCLOSURE.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      </article>
      <label className="check">
        <input type="checkbox" checked={read} onChange={(e) => setRead(e.target.checked)} /> I have read the risk disclosure (version {version}) and
        understand that I can lose money.
      </label>
      <div className="actions">
        <button type="button" className="primary" disabled={!read || action.busy} onClick={accept}>
          {action.busy ? "Recording…" : `Accept version ${version}`}
        </button>
      </div>
      <ErrorBox error={action.error} />
    </>
  );
}

/** A masked key as the vault returns it (stars and the last characters), shortened for a table. */
export function maskShort(masked: string | undefined): string {
  if (!masked) return "—";
  const visible = masked.replace(/^\*+/, "");
  return masked.length > visible.length ? `••••${visible}` : masked;
}

export function KeysStep({ onChanged }: { onChanged?: () => void }) {
  const { user } = useSession();
  const venues = useVenues();
  const creds = useLoad(() => get<{ credentials?: Credential[] }>(`/v1/users/${encodeURIComponent(user.userId)}/credentials`), [user.userId]);
  const accounts = useLoad(() => get<{ accounts?: VenueAccount[] }>(`/v1/venue-accounts`), []);
  const [form, setForm] = useState({ venueId: "", marketType: "", label: "", apiKey: "", apiSecret: "", passphrase: "" });
  const action = useAction();
  const [added, setAdded] = useState("");
  const list = venues.data ?? [];
  const venue = list.find((v) => v.id === form.venueId) ?? list[0];
  const market = venue?.marketTypes?.includes(form.marketType) ? form.marketType : venue?.marketTypes?.[0] ?? "";
  const names = venueNames(list);
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });

  async function add(e: React.FormEvent) {
    e.preventDefault();
    if (!venue) return;
    setAdded("");
    const chosen = { kind: venue.kind, id: venue.id, marketType: market };
    const label = form.label.trim() || `${venue.displayName} ${enumLabel(market).toLowerCase()}`;
    const done = await action.run(async () => {
      const stored = await post<{ credential: Credential }>(`/v1/users/${encodeURIComponent(user.userId)}/credentials`, {
        venue: chosen, label, apiKey: form.apiKey, apiSecret: form.apiSecret, passphrase: form.passphrase || undefined,
      });
      await post("/v1/venue-accounts", { userId: user.userId, role: "ACCOUNT_ROLE_FOLLOWER", venue: chosen, credentialId: stored.credential.credentialId, label });
      return stored;
    });
    if (done) {
      // The secret leaves the page: only the masked key is ever shown again.
      setForm({ ...form, label: "", apiKey: "", apiSecret: "", passphrase: "" });
      setAdded(`${label}: ${maskShort(done.credential.maskedApiKey)}`);
      creds.reload();
      accounts.reload();
      onChanged?.();
    }
  }

  const stored = creds.data?.credentials ?? [];
  const fields = ["api_key", "api_secret", "passphrase", "label", "venue", "venue.id", "venue.market_type"];
  return (
    <>
      <ErrorBox error={creds.error ?? venues.error} onRetry={() => { creds.reload(); venues.reload(); }} />
      {creds.loading && !creds.data && <Loading what="your venue keys" />}
      {creds.data && stored.length === 0 && <Empty>No venue connected yet.</Empty>}
      {stored.length > 0 && (
        <ul className="keys" aria-label="Your venue keys">
          {stored.map((c) => {
            const used = (accounts.data?.accounts ?? []).filter((a) => a.credentialId === c.credentialId);
            return (
              <li key={c.credentialId}>
                <strong>{c.label || venueName(c.venue, names)}</strong> · {venueName(c.venue, names)} · key <code>{maskShort(c.maskedApiKey)}</code> · added{" "}
                {time(c.createTime)}
                {used.length > 0 && <span className="muted"> · {used.map((a) => enumLabel(a.role).toLowerCase()).join(", ")}</span>}
              </li>
            );
          })}
        </ul>
      )}
      <h3>Connect a venue</h3>
      <p className="muted small">Create API keys at your venue with trading allowed and withdrawals off. They are stored encrypted and never shown again.</p>
      {venues.loading && !venues.data && <Loading what="the supported venues" />}
      {venue && (
        <form className="grid-form" onSubmit={add} aria-label="Connect a venue">
          <SelectField label="Venue" name="venue.id" value={venue.id} onChange={set("venueId")} error={action.error}>
            {list.map((v) => (
              <option key={v.id} value={v.id}>
                {v.displayName}
              </option>
            ))}
          </SelectField>
          <SelectField label="Market" name="venue.market_type" value={market} onChange={set("marketType")} error={action.error}>
            {(venue.marketTypes ?? []).map((m) => (
              <option key={m} value={m}>
                {enumLabel(m)}
              </option>
            ))}
          </SelectField>
          <TextField label="Name for these keys (optional)" name="label" maxLength={80} value={form.label} onChange={set("label")} error={action.error}
            placeholder={`${venue.displayName} ${enumLabel(market).toLowerCase()}`} />
          <TextField label={venue.apiKeyLabel || "API key"} name="api_key" required autoComplete="off" spellCheck={false} value={form.apiKey} onChange={set("apiKey")} error={action.error} />
          <TextField label={venue.apiSecretLabel || "API secret"} name="api_secret" type="password" required autoComplete="new-password" value={form.apiSecret}
            onChange={set("apiSecret")} error={action.error} />
          {venue.needsPassphrase && (
            <TextField label={venue.passphraseLabel || "Passphrase"} name="passphrase" type="password" autoComplete="new-password" value={form.passphrase}
              onChange={set("passphrase")} error={action.error} />
          )}
          <div className="actions full">
            <button type="submit" className="primary" disabled={action.busy}>
              {action.busy ? "Connecting…" : "Save keys"}
            </button>
          </div>
        </form>
      )}
      <FormError error={action.error} fields={fields} />
      {added && <Notice>Connected. The keys are kept encrypted and shown only masked: {added}</Notice>}
    </>
  );
}

export function AccountPage() {
  usePageTitle("Your account");
  const { user } = useSession();
  const kyc = useLoad(() => get<{ kyc?: Kyc }>(`/v1/users/${encodeURIComponent(user.userId)}/kyc`).then((r) => r.kyc ?? {}), [user.userId]);
  const eligibility = useLoad(() => get<Eligibility>(`/v1/users/${encodeURIComponent(user.userId)}/copy-eligibility`), [user.userId]);
  const accounts = useLoad(() => get<{ accounts?: VenueAccount[] }>(`/v1/venue-accounts`), []);
  const kycDone = kyc.data?.status === "KYC_STATUS_APPROVED";
  const pending = kyc.data?.status === "KYC_STATUS_PENDING";
  const refresh = () => {
    kyc.reload();
    eligibility.reload();
  };
  useEvery(4000, refresh, pending); // an operator's decision shows without a reload
  const hasAccount = (accounts.data?.accounts ?? []).some((a) => a.role === "ACCOUNT_ROLE_FOLLOWER");
  const ready = !!eligibility.data?.eligible && hasAccount;

  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">Your account</h1>
      <p className="muted">
        {user.displayName ? `${user.displayName} · ` : ""}
        {user.email}
      </p>
      <ErrorBox error={kyc.error ?? eligibility.error} onRetry={refresh} />
      {ready && (
        <Notice>
          You are ready to copy. <Link to="/discover">Find a master</Link>.
        </Notice>
      )}
      <div className="steps">
        <Step n={1} title="Verify your identity" done={kycDone}>
          {kyc.loading && !kyc.data ? <Loading what="your verification" /> : <KycStep kyc={kyc.data} onChanged={refresh} />}
        </Step>
        <Step n={2} title="Accept the risk disclosure" done={!!eligibility.data?.eligible}>
          <DisclosureStep eligibility={eligibility.data} kycDone={kycDone} onChanged={refresh} />
        </Step>
        <Step n={3} title="Connect your venue" done={hasAccount}>
          <KeysStep onChanged={accounts.reload} />
        </Step>
      </div>
    </section>
  );
}
