from django.apps import AppConfig
from django.core import checks


class BotConfig(AppConfig):
    name = "bot"

    def ready(self) -> None:
        from bot import conf
        from bot.checks import SETTINGS_TAG, database_check, refuse_to_start_on_lambda, settings_check

        checks.register(settings_check, SETTINGS_TAG)
        checks.register(database_check)
        if conf.on_lambda():  # no server start to refuse there: the cold start is (bot.checks)
            refuse_to_start_on_lambda()
