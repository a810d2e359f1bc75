// What Version reports about the running binary.

export interface VersionInfo {
  tag: string;
  sha: string;
  built: string;
  /** Talos's field name; minos reports the Bun version here. */
  goVersion: string;
  os: string;
  arch: string;
}
