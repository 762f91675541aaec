"""Step kinds: importing this package registers every built-in kind's config model."""

from engine.definition.kinds import ai, crm, flow, integration, messaging

__all__ = ["ai", "crm", "flow", "integration", "messaging"]
