// Regenerates each launch agent's flow.json from its readable component.py
// (and bundled documents) with the Langflow venv's Python, which builds the
// node templates with Langflow's own code. Commit the component and the flow
// together.   npx tsx deploy/local/agents/build.ts
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ensureLangflow } from '../tools';
import { repoRoot } from '../stack';
import { LAUNCH_AGENT_SLUGS, agentsDir } from './index';

const python = path.join(path.dirname(ensureLangflow(repoRoot)), 'python');
execFileSync(python, [path.join(agentsDir, 'build_flow.py'), ...LAUNCH_AGENT_SLUGS.map((slug) => path.join(agentsDir, slug))], {
  stdio: 'inherit',
  // The template builder logs through Langflow's logger; keep the output to our own lines.
  env: { ...process.env, LANGFLOW_LOG_LEVEL: 'error', LANGFLOW_DO_NOT_TRACK: 'true', DO_NOT_TRACK: 'true' },
});
