// --help texts. Their first lines are also the one-line usage for errors (request.ts usageLine).

/** The names this code answers to. halt/reboot are not linked today, but the
 * default action follows the invoked name, as in systemd and BusyBox. */
export type PowerAppletName = "poweroff" | "halt" | "reboot" | "shutdown";

const poweroffFamily = (name: string, dflt: string) => `usage: ${name} [-p|--poweroff] [-H|--halt] [-r|--reboot] [-f|--force] [-n|--no-sync] [--no-wall]

Asks init over the machine API to ${dflt} the node: init stops services,
unmounts and then calls reboot(2). The kernel (kernel.poweroff_cmd), udev and
hypervisor agents run this too; without a terminal, what was asked and the
result go to the kernel log (dmesg).

  -p, --poweroff   power off (default for poweroff)
  -H, --halt       halt: stop the node without powering it off
  -r, --reboot     reboot
  -f, --force      do not ask init: sync, then reboot(2) at once
                   (the escape hatch when init is wedged)
  -n, --no-sync    with -f: skip sync(2)
      --no-wall    accepted for compatibility (poweroff does not broadcast)
      --help       this text

Environment: MINOS_SOCKET overrides the API socket
(default /system/run/machined/machine.sock).
Exit status: 0 request accepted (or -f done), 1 bad usage, init unreachable
or refused.
`;

export const HELP: Record<PowerAppletName, string> = {
  poweroff: poweroffFamily("poweroff", "power off"),
  halt: poweroffFamily("halt", "halt"),
  reboot: poweroffFamily("reboot", "reboot"),
  shutdown: `usage: shutdown [-h|-P|--poweroff] [-H|--halt] [-r|--reboot] [-c] [-k] [--no-wall] [TIME] [WALL...]

Asks init over the machine API to power off, halt or reboot the node, now or
at TIME. A scheduled shutdown is held by init: it survives this command,
shows in Events and on the dashboard, and \`shutdown -c\` cancels it.

  -h, -P, --poweroff  power off (default; -h with -H halts)
  -H, --halt          halt
  -r, --reboot        reboot
  -c                  cancel the scheduled shutdown (words after are the message)
  -k                  only announce; schedule nothing
      --no-wall       do not announce on the console
      --help          this text

TIME is "now", "+MINUTES" (+0 is now) or "hh:mm" (24 h, node local time,
the next such minute). Without TIME, "+1" is meant (as in systemd).
WALL... is a message recorded with the scheduled shutdown and announced on
the console.

Environment: MINOS_SOCKET overrides the API socket
(default /system/run/machined/machine.sock).
Exit status: 0 done, 1 bad usage, init unreachable or refused.
`,
};
