// The node's well-known paths and ports, one constant each. They follow Talos
// where Talos has one.

/** The machine API's unix socket: full access for whoever can open it (mode 0600). */
export const API_SOCKET = "/system/run/machined/machine.sock";
/** The machine API over TCP with mutual TLS. */
export const API_TCP_PORT = 50000;
/** `unix:` endpoint form of API_SOCKET, as the clients take it. */
export const LOCAL_ENDPOINT = `unix:${API_SOCKET}`;
/** The node's persistent state (a partition on an installed node). */
export const STATE_DIR = "/system/state";
/** The stored machine config. */
export const STORED_CONFIG = `${STATE_DIR}/config.yaml`;
/** Where a service is started through when it exists. */
export const WRAPPERD = "/sbin/wrapperd";
/** Environment override of the API socket, for tests and for reaching a node's socket from outside its root. */
export const SOCKET_ENV = "MINOS_SOCKET";
