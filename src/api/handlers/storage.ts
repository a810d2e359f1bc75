// storage.StorageService (Talos's): the disk listing.
import type { MachineBackend } from "../../init/backend/contract.ts";
import type { ServiceImpl } from "../handler.ts";
import { meta } from "../handler.ts";

export function storageService(backend: MachineBackend): ServiceImpl<"storage.StorageService"> {
  return {
    async Disks(_req, ctx) {
      const disks = await backend.disks();
      return {
        messages: [
          {
            metadata: meta(ctx),
            disks: disks.map((d) => ({
              size: d.size,
              model: d.model,
              device_name: d.deviceName,
              name: d.name,
              serial: d.serial,
              modalias: d.modalias,
              uuid: d.uuid,
              wwid: d.wwid,
              type: d.type,
              bus_path: d.busPath,
              system_disk: d.systemDisk,
              subsystem: d.subsystem,
              readonly: d.readonly,
            })),
          },
        ],
      };
    },
  };
}
