// wrapperd --help. The exit-code table is a contract with init, which reports a
// service that "exited 2" as misconfigured rather than crashed.
export const USAGE = `usage: wrapperd [flags] -- /path/to/service [args...]

Prepares this process for a system service, then execve(2)s the service, which
keeps wrapperd's pid. Flags accept --flag=v, --flag v and Go-style -flag=v.

  --name NAME              service name, used in messages
  --ctty /dev/ttyN         new session; the tty becomes the controlling terminal and fds 0-2
  --oom-score N            /proc/self/oom_score_adj, -1000..1000
  --cgroup-path /a/b       cgroup v2 path below /sys/fs/cgroup: created if missing, pid moved in
  --rlimit NAME=SOFT:HARD  any RLIMIT_ name (NOFILE, nofile, RLIMIT_NOFILE); NAME=N sets both;
                           "unlimited" is RLIM_INFINITY; repeatable
  --dropped-caps A,B       drop these capabilities (CAP_ prefix optional, any case)
  --keep-caps A,B          drop every capability except these (an upper bound: caps this
                           process lacks are not gained); with a non-root --uid they are
                           kept across the switch as ambient capabilities
  --groups G1,G2           supplementary groups (numeric); cleared when --uid/--gid is given
                           without --groups
  --gid GID                numeric group id
  --uid UID                numeric user id; without --keep-caps a non-root uid has no caps
  --cwd DIR                working directory (entered as the new uid)
  --env KEY=VALUE          set a variable for the service; repeatable
  --clear-env              start the service from an empty environment (plus --env)
  --no-new-privs           PR_SET_NO_NEW_PRIVS: execve can never grant privileges again
  --help                   this text

Steps run in this order: ctty, oom score, cgroup, rlimits, capabilities,
groups/gid/uid, cwd, no_new_privs, execve.

Exit codes (nothing is executed unless the service itself runs):
  2    usage: unknown flag, bad value, unknown capability, nothing after --
  1    a preparation step failed (message names the call and errno)
  126  the service was found but could not be executed (EACCES, ENOEXEC, ...)
  127  the service was not found (ENOENT)
  else the service's own exit status
`;
