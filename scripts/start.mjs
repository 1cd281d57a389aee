#!/usr/bin/env node
// `npm start`: the fleet demo. Until the controller and the agent's simulated fleet are built
// this says so plainly instead of pretending.
console.error('thp-fleet: the fleet demo (controller + simulated fleet + dashboard) is not built yet; see README.md "Status".');
process.exit(1);
