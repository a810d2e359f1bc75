// Machine configs several tests share: one valid, one invalid (wrong types, unknown keys).

export const VALID = `version: v1alpha1
machine:
  network:
    hostname: stored-node
  sysctls:
    net.ipv4.ip_forward: "1"
  kernel:
    modules:
      - name: br_netfilter
  env:
    HTTP_PROXY: http://proxy:3128
  files:
    - path: /var/etc/motd
      content: hello
      permissions: 0o644
      op: create
  kubelet:
    extraArgs:
      v: "2"
  logging:
    destinations:
      - endpoint: udp://127.0.0.1:5514
        format: json_lines
`;

export const INVALID = `version: v1alpha1
machine:
  network:
    hostname: cmdline-node
  sysctls:
    foo: 1
`;
