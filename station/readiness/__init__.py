"""Job readiness: the interlock and what it judges (stencils, PCB lots, profiles, data package)."""
