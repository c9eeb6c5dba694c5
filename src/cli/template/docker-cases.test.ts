import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkInspectFormat, FormatError, renderInspect, renderList } from '../format.js';
import { CONTAINER_HEADERS, containerContext, type DockerSummary } from '../view/container-context.js';
import { toGo } from '../view/go-data.js';
import { IMAGE_HEADERS, imageContexts } from '../view/list-contexts.js';

/**
 * The same templates through docker's own client and through Hull's: each
 * case's `want` is what `docker` 28 printed for it (recorded by
 * scripts/record-docker-templates.ts against a fake Engine API serving
 * `data`); Hull runs it over the same data the way its CLI does. A case Hull
 * prints differently is listed below with the reason and what Hull prints.
 */
interface Case {
  verb: 'inspect' | 'ps' | 'images';
  format: string;
  want: { stdout: string; stderr: string; code: number };
}

const doc = JSON.parse(readFileSync(join(__dirname, 'testdata', 'docker-cases.json'), 'utf8')) as {
  recorded: { by: string; at: string };
  data: { inspect: object; ps: DockerSummary[]; images: Array<Parameters<typeof imageContexts>[0]> };
  cases: Case[];
};

/** Where Hull differs from docker on purpose, and what it prints instead. */
const DIFFERENT: Record<string, { why: string; hull: Partial<Case['want']> }> = {
  '{{$}}': { why: 'docker prints the addresses of the pointers in its struct (0xc…); Hull prints the values', hull: { code: 0 } },
  '{{index .HostConfig.PortBindings "80/tcp" 0 | printf "%v"}}': {
    why: "docker's typed inspect cannot index PortBindings with a string and falls back to a map; Hull's binding is the struct docker declares",
    hull: { stdout: '{0.0.0.0 8080}\n', code: 0 },
  },
  '{{.Config.Entrypoint}}': { why: "a JSON null prints <nil>: Hull's data does not carry the Go type that makes docker print a nil slice as []", hull: { stdout: '<nil>\n', code: 0 } },
  '{{json .State}}': { why: "docker's Go type leaves out a nil Health (omitempty); Hull's data keeps the null it was given", hull: { code: 0 } },
  '{{json .}}': {
    why: "Hull adds its Type, sorts networks, says N/A for the size it does not measure (docker 0B), and does not escape > as \\u003e (docker's row goes through json.Marshal)",
    hull: {
      stdout: `{"Command":"\\"sh -c 'while true; …\\"","CreatedAt":"2023-11-14 22:13:20 +0000 UTC","ID":"4c01db0b339c","Image":"busybox","Labels":"a=1,b=2","LocalVolumes":"0","Mounts":"","Names":"web","Networks":"backend,bridge","Platform":null,"Ports":"443/tcp, 0.0.0.0:9000-9001->9000-9001/udp, 0.0.0.0:8080->80/tcp","RunningFor":"3 years ago","Size":"N/A","State":"running","Status":"Up 2 minutes","Type":"container"}\n{"Command":"\\"docker-entrypoint.s…\\"","CreatedAt":"2023-11-14 19:26:40 +0000 UTC","ID":"9f2d0c1b2a3e","Image":"postgres:16","Labels":"","LocalVolumes":"0","Mounts":"","Names":"db","Networks":"","Platform":null,"Ports":"","RunningFor":"3 years ago","Size":"N/A","State":"exited","Status":"Exited (0) About a minute ago","Type":"container"}\n`,
      code: 0,
    },
  },
  '{{upper .State.Pid}}': { why: 'docker names the type of a JSON number json.Number; Hull int', hull: { stderr: 'template parsing error: template: :1:14: executing "" at <.State.Pid>: wrong type for value; expected string; got int\n', code: 1 } },
  '{{.Name.Foo}}': { why: "docker's message comes from its untyped fallback (interface {}); Hull names the type (string)", hull: { stderr: 'template parsing error: template: :1:7: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string\n', code: 1 } },
  '{{.Status}}|{{.State}}|{{.Ports}}|{{.Labels}}|{{.Label "a"}}|{{.Label "nope"}}|{{.Networks}}': {
    why: 'docker lists networks in Go map order, which changes from run to run; Hull sorts them',
    hull: { stdout: 'Up 2 minutes|running|443/tcp, 0.0.0.0:9000-9001->9000-9001/udp, 0.0.0.0:8080->80/tcp|a=1,b=2|1||backend,bridge\nExited (0) About a minute ago|exited|||||\n', code: 0 },
  },
};

/** What Hull's CLI prints for a case: stdout, stderr without its `Error: ` prefix, and the exit code. */
function hull(c: Case): Case['want'] {
  try {
    if (c.verb === 'inspect') {
      checkInspectFormat(c.format);
      return { stdout: renderInspect(c.format, toGo(doc.data.inspect)), stderr: '', code: 0 };
    }
    const now = Date.now();
    const rows =
      c.verb === 'ps'
        ? () => doc.data.ps.map((r) => containerContext(r, { trunc: true, type: 'container', now }))
        : () => doc.data.images.flatMap((i) => imageContexts(i, { trunc: true, now }));
    return { stdout: renderList({ format: c.format, items: [], rows, headers: c.verb === 'ps' ? CONTAINER_HEADERS : IMAGE_HEADERS, table: '' }), stderr: '', code: 0 };
  } catch (e) {
    const code = e instanceof FormatError ? e.exitCode : 1;
    // Hull's inspect, as docker's, ends with an empty line when a template failed on an object.
    return { stdout: c.verb === 'inspect' && code === 1 ? '\n' : '', stderr: `${(e as Error).message}\n`, code };
  }
}

describe(`Go templates, as docker's client runs them`, () => {
  beforeAll(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(doc.recorded.at));
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  it('has cases recorded by docker', () => {
    expect(doc.recorded.by).toMatch(/^Docker version \d+/);
    expect(doc.cases.length).toBeGreaterThan(80);
    expect(doc.cases.every((c) => c.want)).toBe(true);
  });

  for (const c of doc.cases) {
    const diff = DIFFERENT[c.format];
    it(`${c.verb} --format ${JSON.stringify(c.format)}${diff ? ` (differs: ${diff.why})` : ''}`, () => {
      const got = hull(c);
      if (diff) {
        expect(got).toMatchObject(diff.hull);
        expect(got).not.toEqual(c.want);
      } else expect(got).toEqual(c.want);
    });
  }
});
