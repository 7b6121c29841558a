from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "congdoan.core"
    label = "core"
