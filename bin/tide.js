#!/usr/bin/env node
// `npx tide …`: Tideline runs from its TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../cli/tide.ts');
