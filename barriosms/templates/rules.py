"""The rules the intake (and web reports, and staff routing) read messages with: texts, categories, region, limits."""

from __future__ import annotations

from dataclasses import dataclass

from barriosms.config import ServiceSettings, Settings
from barriosms.domain.categories import CategoryRules
from barriosms.domain.learning import Model
from barriosms.domain.replies import Templates
from barriosms.templates.loader import load_categories, load_templates


@dataclass(frozen=True)
class IntakeRules:
    templates: Templates
    categories: CategoryRules
    region: str  # ISO country of local numbers: [gateway] region
    multipart_timeout: float = 600.0
    service: ServiceSettings = ServiceSettings()
    # What was learnt from staff's corrections (cases/learning.py: learn); None: the keywords alone.
    learned: Model | None = None


def rules_from_settings(settings: Settings) -> IntakeRules:
    """The rules of the configured language and files (TemplateError when they are not usable)."""
    g = settings.gateway
    return IntakeRules(templates=load_templates(g.replies, g.language),
                       categories=load_categories(g.categories, g.language),
                       region=g.region, multipart_timeout=g.multipart_timeout, service=settings.service)
