"""feeds.yaml: the schema (models.py) and the loader that names file, line and key (load.py)."""

from monitor.config.alerts import AlertSettings, RuleConfig, SubscriberConfig, TopicConfig
from monitor.config.base import DEFAULT_USER_AGENT
from monitor.config.load import ConfigError, LoadedConfig, format_path, load_config
from monitor.config.models import (
    BackfillConfig,
    Config,
    CrawlConfig,
    CrawlSettings,
    FetchConfig,
    MetricsConfig,
    RelevanceConfig,
    SectorConfig,
    SourceConfig,
    WebConfig,
    is_loopback_host,
)

__all__ = [
    "DEFAULT_USER_AGENT",
    "AlertSettings",
    "BackfillConfig",
    "Config",
    "ConfigError",
    "CrawlConfig",
    "CrawlSettings",
    "FetchConfig",
    "LoadedConfig",
    "MetricsConfig",
    "RelevanceConfig",
    "RuleConfig",
    "SectorConfig",
    "SourceConfig",
    "SubscriberConfig",
    "TopicConfig",
    "WebConfig",
    "format_path",
    "is_loopback_host",
    "load_config",
]
