"""The events service: every committed change of every family as Server-Sent Events, with replay."""
