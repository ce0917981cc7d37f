import { useCallback, useEffect, useState } from "react";
import { get, post, setUnauthenticatedHandler, type User } from "./api";
import { Link, Router, useRouter } from "./router";
import { SessionContext, storedUser, USER_KEY } from "./session";
import { LoginPage, SignUpPage } from "./pages/Login";
import { DiscoveryPage } from "./pages/Discovery";
import { ProfilePage } from "./pages/Profile";
import { CopiesPage } from "./pages/Following";
import { DashboardPage } from "./pages/Dashboard";
import { RiskPage } from "./pages/Risk";
import { AnalyticsPage } from "./pages/Analytics";
import { OperatorPage } from "./pages/Operator";
import { AccountPage } from "./pages/Account";
import { NotFoundPage } from "./pages/NotFound";
import { Loading } from "./components/Status";
import { ErrorBoundary } from "./components/ErrorBoundary";

const NAV = [
  { to: "/discover", label: "Discover" },
  { to: "/copies", label: "My copies" },
  { to: "/dashboard", label: "Live" },
  { to: "/analytics", label: "Portfolio" },
  { to: "/risk", label: "Risk" },
  { to: "/account", label: "Account" },
];

function Pages() {
  const { path } = useRouter();
  return (
    <ErrorBoundary resetKey={path}>
      <Page route={path.split(/[?#]/)[0]} />
    </ErrorBoundary>
  );
}

function Page({ route }: { route: string }) {
  const master = route.match(/^\/masters\/([^/]+)$/);
  if (master) return <ProfilePage traderId={decodeURIComponent(master[1])} />;
  switch (route) {
    case "/":
    case "/discover":
      return <DiscoveryPage />;
    case "/copies":
    case "/following":
      return <CopiesPage />;
    case "/dashboard":
      return <DashboardPage />;
    case "/risk":
      return <RiskPage />;
    case "/analytics":
      return <AnalyticsPage />;
    case "/account":
      return <AccountPage />;
    case "/operator":
      return <OperatorPage />;
    default:
      return <NotFoundPage />;
  }
}

function Shell() {
  const [user, setUser] = useState<User | null>(storedUser);
  const [checked, setChecked] = useState(false);
  const [expired, setExpired] = useState(false);
  const { navigate, path } = useRouter();

  const forget = useCallback(() => {
    window.localStorage.removeItem(USER_KEY);
    setUser(null);
  }, []);

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setExpired(true);
      forget();
    });
    return () => setUnauthenticatedHandler(null);
  }, [forget]);

  // The page remembers who logged in; the cookie decides whether that still holds.
  useEffect(() => {
    if (!user) {
      setChecked(true);
      return;
    }
    get<{ user: User }>(`/v1/users/${encodeURIComponent(user.userId)}`)
      .then((reply) => setUser((u) => (u ? { ...u, ...reply.user } : u)))
      .catch(() => undefined) // a 401 forgets the user through the handler above
      .finally(() => setChecked(true));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const logout = useCallback(async () => {
    try {
      await post("/v1/auth:logout");
    } finally {
      forget();
      setExpired(false);
      navigate("/");
    }
  }, [forget, navigate]);

  const loggedIn = (u: User, to?: string) => {
    window.localStorage.setItem(USER_KEY, JSON.stringify(u));
    setExpired(false);
    setUser(u);
    if (to) navigate(to);
  };

  if (!checked) return <Loading what="your session" />;
  if (!user) {
    if (path.split("?")[0] === "/signup") return <SignUpPage onSignedUp={(u) => loggedIn(u, "/account")} />;
    return <LoginPage expired={expired} onLogin={(u) => loggedIn(u)} />;
  }
  const isOperator = (user.roles ?? []).includes("ROLE_OPERATOR");
  return (
    <SessionContext.Provider value={{ user, isOperator, logout }}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/discover" className="brand">
          copytrade
        </Link>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <Link key={n.to} to={n.to}>
              {n.label}
            </Link>
          ))}
          {isOperator && <Link to="/operator">Operator</Link>}
        </nav>
        <div className="who">
          <span className="email">{user.displayName || user.email}</span>
          <button type="button" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Pages />
      </main>
    </SessionContext.Provider>
  );
}

export function App() {
  return (
    <Router>
      <Shell />
    </Router>
  );
}
