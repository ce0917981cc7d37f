import { useState } from "react";
import { api, type LoginReply, type User } from "../api";
import { Notice } from "../components/Status";
import { FormError, TextField } from "../components/Field";
import { useAction, usePageTitle } from "../hooks";
import { Link } from "../router";

// The gateway puts the token in an httpOnly cookie and leaves it out of this reply.
const login = (email: string, password: string) =>
  api<LoginReply>("POST", "/v1/auth:login", { email, password }, { "X-Copytrade-Session": "cookie" });

export const MIN_PASSWORD = 12;

export function LoginPage({ onLogin, expired }: { onLogin: (user: User) => void; expired?: boolean }) {
  usePageTitle("Log in");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction();

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const reply = await action.run(() => login(email, password));
    if (reply) onLogin(reply.user);
  }

  return (
    <main className="login" id="main">
      <h1>copytrade</h1>
      <p className="muted">Copy the trades of masters you choose, with your own limits.</p>
      {expired && <Notice>Your session has ended; log in again.</Notice>}
      <form onSubmit={submit} aria-label="Log in">
        <TextField label="Email" name="email" type="email" autoComplete="username" required value={email} onChange={setEmail} error={action.error} />
        <TextField label="Password" name="password" type="password" autoComplete="current-password" required value={password} onChange={setPassword} error={action.error} />
        <FormError error={action.error} fields={["email", "password"]} />
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? "Logging in…" : "Log in"}
        </button>
      </form>
      <p className="center">
        New here? <Link to="/signup">Create an account</Link>
      </p>
    </main>
  );
}

export function SignUpPage({ onSignedUp }: { onSignedUp: (user: User) => void }) {
  usePageTitle("Create an account");
  const [form, setForm] = useState({ displayName: "", email: "", password: "", repeat: "" });
  const action = useAction();
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  const mismatch = form.repeat !== "" && form.repeat !== form.password;

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (mismatch) return;
    const reply = await action.run(async () => {
      await api("POST", "/v1/users", { email: form.email, password: form.password, displayName: form.displayName.trim() });
      return login(form.email, form.password);
    });
    if (reply) onSignedUp(reply.user);
  }

  return (
    <main className="login" id="main">
      <h1>Create your account</h1>
      <p className="muted">Next you verify your identity, read the risk disclosure and connect a venue. Then you can copy.</p>
      <form onSubmit={submit} aria-label="Create an account">
        <TextField label="Your name" name="display_name" autoComplete="name" required maxLength={100} value={form.displayName} onChange={set("displayName")} error={action.error} />
        <TextField label="Email" name="email" type="email" autoComplete="email" required value={form.email} onChange={set("email")} error={action.error} />
        <TextField label="Password" name="password" type="password" autoComplete="new-password" required minLength={MIN_PASSWORD}
          hint={`At least ${MIN_PASSWORD} characters. A few words you will remember work well.`} value={form.password} onChange={set("password")} error={action.error} />
        <div className="field">
          <label htmlFor="signup-repeat">Password again</label>
          <input id="signup-repeat" type="password" autoComplete="new-password" required value={form.repeat} aria-invalid={mismatch || undefined}
            aria-describedby={mismatch ? "signup-repeat-error" : undefined} onChange={(e) => set("repeat")(e.target.value)} />
          {mismatch && <p id="signup-repeat-error" className="field-error">The two passwords differ.</p>}
        </div>
        <FormError error={action.error} fields={["email", "password", "display_name"]} />
        <button type="submit" className="primary" disabled={action.busy || mismatch}>
          {action.busy ? "Creating your account…" : "Create account"}
        </button>
      </form>
      <p className="center">
        Have an account? <Link to="/">Log in</Link>
      </p>
    </main>
  );
}
