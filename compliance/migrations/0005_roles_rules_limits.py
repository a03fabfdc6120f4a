"""Staff roles as groups, default screening rule settings and tier limits."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Permissions are normally created after all migrations (post_migrate); create
    # them now so the groups can hold them. post_migrate later adds those of apps
    # migrated after this one (see compliance.roles).
    from django.contrib.auth.management import create_permissions

    from compliance.defaults import defaults_setup
    from compliance.roles import roles_sync

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(apps)
    defaults_setup(apps)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from compliance.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0004_screening_limits_approvals"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
