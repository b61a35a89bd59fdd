"""Upload to the provincial/national worker platforms (seed 003 interface): wire, signing, client, adapter, simulator, outbox."""
