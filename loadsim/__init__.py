"""``venue loadsim``: a bounded load simulation of a chain's hub replicas on this machine.

A tool, not a device role: it starts (or is given) a Mosquitto broker, a fresh PostgreSQL database
and R ``venue hub`` replicas as child processes, drives them like real gates, kiosks and beacon
scanners do (HTTP for questions, MQTT with the durable outbox for events), compares what it sent
with what the database holds, and prints the figures. Loopback only; it ends by itself.
"""
