"""The admin's address search: Message.to_address (the first `to`, bare and lower-case) and
MessageAddress (every other recipient), filled for the rows already stored, in batches, each
committed on its own (a long table is not held in one transaction); the indexes are built
after the backfill, which is faster than keeping them up to date row by row."""

import django.db.models.deletion
from django.db import migrations, models, transaction

from queueing.message_addresses import search_form

BATCH = 2000


def backfill(apps, schema_editor) -> None:
    Message = apps.get_model("queueing", "Message")
    MessageAddress = apps.get_model("queueing", "MessageAddress")
    db = schema_editor.connection.alias
    last = 0
    while True:
        rows = list(
            Message.objects.using(db)
            .filter(pk__gt=last)
            .order_by("pk")
            .only("pk", "to", "cc", "bcc")[:BATCH]
        )
        if not rows:
            return
        last = rows[-1].pk
        extra = []
        for row in rows:
            row.to_address = search_form(row.to[0]) if row.to else ""
            seen = {row.to_address}
            for value in (*row.to[1:], *row.cc, *row.bcc):
                address = search_form(value)
                if address and address not in seen:
                    seen.add(address)
                    extra.append(MessageAddress(message_id=row.pk, address=address))
        with transaction.atomic(using=db):
            Message.objects.using(db).bulk_update(rows, ["to_address"], batch_size=500)
            MessageAddress.objects.using(db).bulk_create(extra, batch_size=1000)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("queueing", "0011_operator_sending_pause"),
    ]

    operations = [
        migrations.CreateModel(
            name="MessageAddress",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("address", models.CharField(max_length=320)),
                (
                    "message",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="queueing.message",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="message",
            name="to_address",
            field=models.CharField(blank=True, default="", editable=False, max_length=320),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["to_address", "-created_at"], name="message_to_address_idx"),
        ),
        migrations.AddIndex(
            model_name="messageaddress",
            index=models.Index(fields=["address", "message"], name="message_address_idx"),
        ),
    ]
