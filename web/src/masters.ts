// Names of masters by user id, from the leaderboard (sessions only know the master's user id).
import { get, type MasterProfile } from "./api";

let cache: Promise<Map<string, MasterProfile>> | null = null;

export function masterNames(): Promise<Map<string, MasterProfile>> {
  if (!cache) {
    cache = get<{ traders?: MasterProfile[] }>("/api/master-traders?pageSize=100").then(
      (r) => new Map((r.traders ?? []).map((t) => [t.userId ?? "", t])),
      (err) => {
        cache = null;
        throw err;
      },
    );
  }
  return cache;
}

export function masterLabel(names: Map<string, MasterProfile> | undefined, userId: string | undefined): string {
  return (userId && names?.get(userId)?.displayName) || "a master";
}
