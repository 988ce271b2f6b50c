"""Seasons with their own frequency caps; WeCom's per-customer limit as a mode of the send policy,
counted over WeCom sends (MemberSendDay.wecom), with its own suppression reason."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0005_recurrence'),
    ]

    operations = [
        migrations.AddField(
            model_name='membersendday',
            name='wecom',
            field=models.PositiveIntegerField(db_default=0, verbose_name='WeCom mass messages'),
        ),
        migrations.AddField(
            model_name='sendpolicy',
            name='wecom_limit',
            field=models.CharField(choices=[('off', 'Off'), ('month_days', "As many per calendar month as the month has days (WeCom's default)"), ('week_7', '7 per week'), ('day_1', '1 per day'), ('month_4', "4 per calendar month (WeCom's older rule)")], default='off', help_text='Applied to WeCom mass messages as an extra cap counted over WeCom sends only, so no task goes to a customer WeCom would refuse.', max_length=12, verbose_name="WeCom's per-customer limit"),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='reason',
            field=models.CharField(blank=True, choices=[('erased', 'Member erased'), ('merged', 'Member merged into another'), ('opted_out', 'Opted out'), ('no_consent', 'No consent for this channel'), ('no_identity', 'No reachable identity for this channel'), ('minor_no_guardian', 'Minor without guardian consent'), ('not_in_store', "Not a member of the campaign's store"), ('cap_reached', 'Frequency cap reached'), ('quiet_hours', 'Deferred: quiet hours'), ('cancelled', 'Campaign cancelled'), ('provider_error', 'The channel refused it'), ('attempts_exhausted', 'Retries exhausted'), ('not_a_friend', "No longer the staff member's WeCom contact"), ('already_received', "Already received another mass message (WeCom's limit)"), ('not_confirmed', 'The staff member did not send it in time'), ('wecom_limit', "WeCom's limit of mass messages per customer reached")], default='', max_length=20, verbose_name='reason'),
        ),
        migrations.CreateModel(
            name='Season',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=60, unique=True, verbose_name='name')),
                ('start_month', models.PositiveSmallIntegerField(verbose_name='start month')),
                ('start_day', models.PositiveSmallIntegerField(verbose_name='start day')),
                ('end_month', models.PositiveSmallIntegerField(verbose_name='end month')),
                ('end_day', models.PositiveSmallIntegerField(verbose_name='end day')),
                ('daily_cap', models.PositiveSmallIntegerField(default=1, verbose_name='messages per day')),
                ('weekly_cap', models.PositiveSmallIntegerField(default=3, verbose_name='messages per week')),
                ('monthly_cap', models.PositiveSmallIntegerField(default=8, verbose_name='messages per month')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
            ],
            options={
                'verbose_name': 'season',
                'verbose_name_plural': 'seasons',
                'ordering': ['start_month', 'start_day', 'id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('end_day__gte', 1), ('end_day__lte', 31), ('end_month__gte', 1), ('end_month__lte', 12), ('start_day__gte', 1), ('start_day__lte', 31), ('start_month__gte', 1), ('start_month__lte', 12)), name='season_month_day_range')],
            },
        ),
    ]
