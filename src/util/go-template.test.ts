import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { renderTemplate } from './go-template.js';

const data = {
  Os: 'linux',
  Architecture: 'amd64',
  Variant: '',
  Size: 1234,
  Config: {
    Env: ['PATH=/usr/bin', 'A=b'],
    Cmd: null,
    Labels: { 'z.last': '1', 'a.first': 'x<y&z' },
    ExposedPorts: {},
  },
  Layers: ['sha256:aa', 'sha256:bb'],
  Platforms: [{ Platform: 'linux/amd64' }],
  Flag: true,
};

describe('go template subset', () => {
  it.each([
    ['{{.Os}}', 'linux'],
    ['{{ .Os }}/{{.Architecture}}', 'linux/amd64'],
    ['os={{.Os}} size={{.Size}}', 'os=linux size=1234'],
    ['{{.Variant}}', ''],
    ['{{.Config.Env}}', '[PATH=/usr/bin A=b]'],
    ['{{.Config.Labels}}', 'map[a.first:x<y&z z.last:1]'],
    ['{{.Config.ExposedPorts}}', 'map[]'],
    ['{{.Config.Cmd}}', '<nil>'],
    ['{{.Nope}}', '<no value>'],
    ['{{.Os.Deeper}}', '<no value>'],
    ['{{.Platforms}}', '[map[Platform:linux/amd64]]'],
    ['{{.Flag}}', 'true'],
    ['{{json .Config.Labels}}', '{"z.last":"1","a.first":"x\\u003cy\\u0026z"}'],
    ['{{json .Config.Env}}', '["PATH=/usr/bin","A=b"]'],
    ['{{json .Nope}}', 'null'],
    ['{{json .Os}}', '"linux"'],
    ['a {{- .Os -}} b', 'alinuxb'],
    ['no actions', 'no actions'],
    ['{{.Layers}}', '[sha256:aa sha256:bb]'],
  ])('%s prints %j', (t, want) => {
    expect(renderTemplate(t, data)).toBe(want);
  });

  it('prints the whole value with {{.}} and {{json .}}', () => {
    expect(renderTemplate('{{json .}}', { B: 1, A: [1] })).toBe('{"B":1,"A":[1]}');
    expect(renderTemplate('{{.}}', { B: 1, A: [1] })).toBe('map[A:[1] B:1]');
  });

  it.each([
    ['{{range .Layers}}{{.}}{{end}}', '--format: {{range .Layers}} is not supported'],
    ['{{index .Config.Labels "a"}}', '--format: {{index .Config.Labels "a"}} is not supported'],
    ['{{.Os | upper}}', '--format: {{.Os | upper}} is not supported'],
    ['{{$x := .Os}}', '--format: {{$x := .Os}} is not supported'],
    ['table {{.Os}', '--format: an action opened with {{ is never closed with }}: "table {{.Os}"'],
    ['{{Os}}', '--format: {{Os}} is not supported'],
  ])('refuses %s with a usage error', (t, message) => {
    let err: unknown;
    try {
      renderTemplate(t, data);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe(message);
    expect((err as UsageError).exitCode).toBe(2);
  });
});
