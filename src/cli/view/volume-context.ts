import { humanSize } from '../../core/human.js';
import { struct } from '../template/index.js';
import { goTime } from './container-context.js';

/** What `volume ls --format` templates see: docker's volumeContext, with a table header per field. */
export const VOLUME_HEADERS: Record<string, string> = {
  Driver: 'DRIVER',
  Name: 'VOLUME NAME',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Label: 'LABEL',
  Links: 'LINKS',
  Size: 'SIZE',
  CreatedAt: 'CREATED AT',
  Availability: 'AVAILABILITY',
  Group: 'GROUP',
};

export const VOLUME_TABLE = 'table {{.Driver}}\t{{.Name}}';

export interface VolumeRow {
  id: string;
  name: string;
  driver: string;
  sizeBytes?: number;
  anonymous: boolean;
  labels: Record<string, string>;
  createdAt: string;
}

export function volumeContext(v: VolumeRow) {
  const labels = v.labels ?? {};
  return struct('*formatter.volumeContext', {
    Availability: 'N/A',
    CreatedAt: goTime(Date.parse(v.createdAt)),
    Driver: v.driver,
    Group: 'N/A',
    Label: (k: unknown) => labels[String(k)] ?? '',
    Labels: Object.entries(labels)
      .map(([k, x]) => `${k}=${x}`)
      .join(','),
    Links: 'N/A',
    Mountpoint: '',
    Name: v.name,
    Scope: 'local',
    Size: v.sizeBytes ? humanSize(v.sizeBytes) : 'N/A',
  });
}
