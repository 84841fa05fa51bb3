import { describe, expect, it } from 'vitest';
import { parseLayoutRef } from './layout-dir.js';

describe('parseLayoutRef (oci:DIR[:NAME], as containers/image reads it)', () => {
  it.each([
    ['oci:/srv/layout', { dir: '/srv/layout', name: undefined }],
    ['oci:/srv/layout:1.0', { dir: '/srv/layout', name: '1.0' }],
    ['oci:rel/dir:team/app:1.0', { dir: 'rel/dir', name: 'team/app:1.0' }],
    ['oci:/srv/layout:', { dir: '/srv/layout', name: undefined }],
  ])('%s', (input, want) => {
    expect(parseLayoutRef(input)).toEqual(want);
  });

  it('is undefined for anything that is not oci:', () => {
    expect(parseLayoutRef('docker://x/y:1')).toBeUndefined();
    expect(parseLayoutRef('/srv/bundle.tar.gz')).toBeUndefined();
  });
});
