/**
 * A volume in docker's shape (`GET /volumes/{name}`, Volume), from what Hull's
 * volume inspect gives. Pure, as network.ts.
 */
export interface VolumeLike {
  name: string;
  driver: string;
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  mountpoint: string;
  sizeBytes?: number;
}

export function volumeJson(v: VolumeLike) {
  return {
    CreatedAt: v.createdAt,
    Driver: v.driver,
    Labels: v.labels,
    Mountpoint: v.mountpoint,
    Name: v.name,
    Options: Object.keys(v.options).length || v.sizeBytes ? { ...v.options, ...(v.sizeBytes ? { size: String(v.sizeBytes) } : {}) } : null,
    Scope: 'local',
  };
}
