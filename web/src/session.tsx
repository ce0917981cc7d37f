// Who is logged in. The token itself is in an httpOnly cookie the page cannot read; the page
// keeps only the user (id, email, roles) it was told at login, and checks it against the gateway.
import { createContext, useContext } from "react";
import type { User } from "./api";

export const USER_KEY = "copytrade.user";

export interface Session {
  user: User;
  isOperator: boolean;
  logout: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("no session");
  return session;
}

export function storedUser(): User | null {
  try {
    const text = window.localStorage.getItem(USER_KEY);
    return text ? (JSON.parse(text) as User) : null;
  } catch {
    return null;
  }
}
