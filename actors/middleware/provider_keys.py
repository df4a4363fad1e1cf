"""A worker refuses to boot with a provider key left at its placeholder while that provider's
API base is the real provider's: every charge would be refused with a 401 and dead-lettered
hours later, instead of the operator hearing of it now, once.

Checked when a worker process boots rather than when ``actors`` is imported, so importing the
actors (tests, tools) never needs provider keys."""

from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

from app.settings import Settings, exit_on_bad_settings


class ProviderKeys(Middleware):
    def __init__(self, config: Settings) -> None:
        self.config = config

    def before_worker_boot(self, broker: Broker, worker: object) -> None:
        problems = self.config.provider_problems()
        if problems:
            # SystemExit passes Dramatiq's hook guard (it catches Exception): the process
            # ends with status 2 and the one message.
            exit_on_bad_settings(problems)
