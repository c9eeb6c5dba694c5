import type { ServiceDetail } from '../contract/services.js';

/**
 * A service as docker's `service inspect` shapes one (the parts Hull has), so
 * templates written for swarm work: `{{.Spec.Name}}`,
 * `{{.Spec.Mode.Replicated.Replicas}}`, `{{.Spec.TaskTemplate.ContainerSpec.Image}}`,
 * `{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}`, `{{.UpdateStatus.State}}`.
 */
export function serviceJson(s: ServiceDetail) {
  const state = { progressing: 'updating', complete: 'completed', 'rolling-back': 'rollback_started', 'rolled-back': 'rollback_completed', paused: 'paused', none: '' }[s.status.rollout.state];
  return {
    ID: s.id,
    Version: { Index: s.revision },
    CreatedAt: s.createdAt,
    UpdatedAt: s.updatedAt,
    Spec: {
      Name: s.name,
      Labels: { 'com.docker.stack.namespace': s.app },
      TaskTemplate: { ContainerSpec: { Image: s.image, Args: s.spec.command ?? [], Env: s.spec.env, Labels: s.spec.labels } },
      Mode: { Replicated: { Replicas: s.replicas } },
      EndpointSpec: { Mode: s.mode, Ports: s.status.publishedPorts.map((p) => ({ Protocol: p.protocol, TargetPort: p.target, PublishedPort: p.published, PublishMode: 'ingress' })) },
    },
    Endpoint: { VirtualIPs: Object.entries(s.vips).map(([network, addr]) => ({ NetworkID: network, Addr: addr })) },
    UpdateStatus: { State: state, Message: s.status.rollout.message },
  };
}
