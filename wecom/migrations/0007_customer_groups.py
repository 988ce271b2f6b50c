import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('wecom', '0006_event_status_index'),
        ('members', '0008_identity_channel_email'),
        ('scrm', '0006_auditlog_no_truncate'),
    ]

    operations = [
        migrations.AlterField(
            model_name='syncrun',
            name='kind',
            field=models.CharField(choices=[('contacts', 'Contacts, full'), ('contacts_incremental', 'Contacts, changes only'), ('tags', 'Corp tags'), ('groups', 'Customer groups')], max_length=24, verbose_name='kind'),
        ),
        migrations.CreateModel(
            name='CustomerGroup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('chat_id', models.CharField(max_length=64, unique=True, verbose_name='chat_id')),
                ('name', models.CharField(blank=True, max_length=100, verbose_name='name')),
                ('owner_userid', models.CharField(blank=True, max_length=64, verbose_name="owner's WeCom userid")),
                ('created_at_wecom', models.DateTimeField(blank=True, null=True, verbose_name='created in WeCom')),
                ('notice', models.TextField(blank=True, verbose_name='notice')),
                ('member_count', models.PositiveIntegerField(default=0, verbose_name='members')),
                ('customer_count', models.PositiveIntegerField(default=0, verbose_name='customers')),
                ('status', models.PositiveSmallIntegerField(choices=[(0, 'Owner active'), (1, 'Owner left, waiting for a new owner'), (2, 'Being handed to a new owner'), (3, 'Handed to a new owner')], default=0, verbose_name='status')),
                ('member_version', models.CharField(blank=True, max_length=64, verbose_name='member version')),
                ('dismissed_at', models.DateTimeField(blank=True, null=True, verbose_name='dismissed')),
                ('seen_at', models.DateTimeField(blank=True, null=True, verbose_name='WeCom state as of')),
                ('synced_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='last synced')),
                ('last_run', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='wecom.syncrun', verbose_name='last listed by run')),
                ('owner', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='owned_groups', to='wecom.wecomstaff', verbose_name='owner')),
                ('store', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='scrm.store', verbose_name='store')),
            ],
            options={
                'verbose_name': 'customer group',
                'verbose_name_plural': 'customer groups',
                'ordering': ['name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='CustomerGroupMember',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('userid', models.CharField(max_length=64, verbose_name='WeCom id')),
                ('kind', models.PositiveSmallIntegerField(choices=[(1, 'Staff member'), (2, 'Customer')], verbose_name='kind')),
                ('name', models.CharField(blank=True, max_length=64, verbose_name='name in the group')),
                ('joined_at', models.DateTimeField(blank=True, null=True, verbose_name='joined')),
                ('join_scene', models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='how they joined')),
                ('invitor', models.CharField(blank=True, max_length=64, verbose_name='invited by (userid)')),
                ('left_at', models.DateTimeField(blank=True, null=True, verbose_name='left')),
                ('group', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='members', to='wecom.customergroup', verbose_name='group')),
                ('member', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='wecom_groups', to='members.member', verbose_name='member')),
                ('staff', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='wecom.wecomstaff', verbose_name='staff')),
            ],
            options={
                'verbose_name': 'customer group member',
                'verbose_name_plural': 'customer group members',
            },
        ),
        migrations.AddIndex(
            model_name='customergroup',
            index=models.Index(fields=['store', 'name'], name='wecom_group_store'),
        ),
        migrations.AddIndex(
            model_name='customergroup',
            index=models.Index(fields=['owner', 'name'], name='wecom_group_owner'),
        ),
        migrations.AddConstraint(
            model_name='customergroupmember',
            constraint=models.UniqueConstraint(fields=('group', 'userid'), name='wecom_group_member_unique'),
        ),
    ]
