-- Replacing a user's emails deletes its rows by (org_id, user_id), and deleting a user
-- cascades through the same columns. Without this index SQLite took user_emails_lookup_idx
-- (equality on org_id alone) and scanned the organisation's every email on each user write.
create index user_emails_user_idx on user_emails (org_id, user_id);
