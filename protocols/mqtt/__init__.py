"""MQTT: the embedded amqtt broker, the server's paho bridge, Star CloudPRNT over MQTT and the printfleet device protocol."""
