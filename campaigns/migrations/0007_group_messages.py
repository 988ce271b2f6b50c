import django.contrib.postgres.fields
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0006_seasons'),
        ('scrm', '0006_auditlog_no_truncate'),
        ('wecom', '0007_customer_groups'),
    ]

    operations = [
        migrations.AddField(
            model_name='wecommasstask',
            name='chat_type',
            field=models.CharField(default='single', max_length=6, verbose_name='chat type'),
        ),
        migrations.CreateModel(
            name='GroupAudience',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('group_ids', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), blank=True, default=list, size=None, verbose_name='chosen groups')),
                ('owner_ids', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), blank=True, default=list, size=None, verbose_name='groups of these owners')),
                ('campaign', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='group_audience', to='campaigns.campaign', verbose_name='campaign')),
                ('store', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='scrm.store', verbose_name='every group of the store')),
            ],
            options={
                'verbose_name': 'group audience',
                'verbose_name_plural': 'group audiences',
            },
        ),
        migrations.CreateModel(
            name='GroupDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('chat_id', models.CharField(max_length=64, verbose_name='chat_id')),
                ('sender', models.CharField(max_length=64, verbose_name="owner's WeCom userid")),
                ('state', models.CharField(choices=[('pending', 'Waiting to be sent'), ('sending', 'Being handed to WeCom'), ('accepted', 'Waiting for the group owner'), ('sent', 'Sent to the group'), ('unsent', 'Not sent by the owner'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='pending', max_length=10, verbose_name='state')),
                ('reason', models.CharField(blank=True, choices=[('erased', 'Member erased'), ('merged', 'Member merged into another'), ('opted_out', 'Opted out'), ('no_consent', 'No consent for this channel'), ('no_identity', 'No reachable identity for this channel'), ('minor_no_guardian', 'Minor without guardian consent'), ('not_in_store', "Not a member of the campaign's store"), ('cap_reached', 'Frequency cap reached'), ('quiet_hours', 'Deferred: quiet hours'), ('cancelled', 'Campaign cancelled'), ('provider_error', 'The channel refused it'), ('attempts_exhausted', 'Retries exhausted'), ('not_a_friend', "No longer the staff member's WeCom contact"), ('already_received', "Already received another mass message (WeCom's limit)"), ('not_confirmed', 'The staff member did not send it in time'), ('wecom_limit', "WeCom's limit of mass messages per customer reached")], default='', max_length=20, verbose_name='reason')),
                ('msgid', models.CharField(blank=True, default='', max_length=64, verbose_name='WeCom msgid')),
                ('error', models.CharField(blank=True, default='', max_length=500, verbose_name='error')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='updated at')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
                ('campaign', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='campaigns.campaign', verbose_name='campaign')),
                ('group', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wecom.customergroup', verbose_name='customer group')),
                ('store', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='scrm.store', verbose_name='store')),
                ('task', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='campaigns.wecommasstask', verbose_name='WeCom task')),
            ],
            options={
                'verbose_name': 'group delivery',
                'verbose_name_plural': 'group deliveries',
                'ordering': ['id'],
                'indexes': [models.Index(fields=['campaign', 'state'], name='group_delivery_state'), models.Index(condition=models.Q(('task__isnull', False)), fields=['task', 'chat_id'], name='group_delivery_task')],
                'constraints': [models.UniqueConstraint(fields=('campaign', 'group'), name='group_delivery_unique')],
            },
        ),
    ]
