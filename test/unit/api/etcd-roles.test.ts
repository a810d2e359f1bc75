// The etcd calls' roles: os:etcd:backup may take snapshots and nothing else
// (not even reads); readers see members and status; operators snapshot and
// defragment; membership and data changes are for admins.
import { describe, expect, test } from "bun:test";
import { authorize, listedRole, roleFromOrganizations } from "../../../src/api/auth.ts";

const M = (m: string) => `/machine.MachineService/${m}`;

describe("etcd roles", () => {
  test("os:etcd:backup: EtcdSnapshot only", () => {
    expect(() => authorize("os:etcd:backup", M("EtcdSnapshot"))).not.toThrow();
    for (const m of ["Version", "EtcdMemberList", "EtcdLeaveCluster", "EtcdRecover", "Bootstrap", "EtcdDefragment", "ApplyConfiguration"])
      expect(() => authorize("os:etcd:backup", M(m))).toThrow(/not allowed/);
    expect(roleFromOrganizations(["os:etcd:backup"])).toBe("os:etcd:backup");
    expect(roleFromOrganizations(["os:etcd:backup", "os:reader"])).toBe("os:reader");
  });
  test("readers read, operators snapshot, admins change membership", () => {
    expect(() => authorize("os:reader", M("EtcdMemberList"))).not.toThrow();
    expect(() => authorize("os:reader", M("EtcdStatus"))).not.toThrow();
    expect(() => authorize("os:reader", M("EtcdSnapshot"))).toThrow();
    expect(() => authorize("os:operator", M("EtcdSnapshot"))).not.toThrow();
    expect(() => authorize("os:operator", M("EtcdLeaveCluster"))).toThrow();
    for (const m of ["Bootstrap", "EtcdRemoveMemberByID", "EtcdLeaveCluster", "EtcdRecover"]) expect(listedRole(M(m))).toBe("os:admin");
  });
});
