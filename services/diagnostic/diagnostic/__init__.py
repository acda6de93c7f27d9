"""The diagnostic service: health of the whole stack for ops dashboards, echo and messages."""
