import { mergeConfig } from 'vitest/config';

import shared from '../../vitest.shared.js';

// The global setup builds build/bpf/*.bpf.o and the addon when clang and libbpf-dev exist.
export default mergeConfig(shared, {
  test: { globalSetup: ['./scripts/vitest-global-setup.mjs'] },
});
