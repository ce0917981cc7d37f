import { useState } from "react";
import { api, type LoginReply, type User } from "../api";
import { ErrorBox, Notice } from "../components/Status";

export function LoginPage({ onLogin, expired }: { onLogin: (user: User) => void; expired?: boolean }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // The gateway puts the token in an httpOnly cookie and leaves it out of this reply.
      const reply = await api<LoginReply>("POST", "/v1/auth:login", { email, password }, { "X-Copytrade-Session": "cookie" });
      onLogin(reply.user);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login" id="main">
      <h1>copytrade</h1>
      <p className="muted">Copy the trades of masters you choose, with your own limits.</p>
      {expired && <Notice>Your session has ended; log in again.</Notice>}
      <form onSubmit={submit} aria-label="Log in">
        <label>
          Email
          <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
