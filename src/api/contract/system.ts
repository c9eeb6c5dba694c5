/** GET /v1/dashboard: where the web dashboard is served, and its sign-in link. */
export interface DashboardStatus {
  url: string | null;
  loginUrl: string | null;
  /** Why there is none (turned off, its address taken). */
  reason: string | null;
}
