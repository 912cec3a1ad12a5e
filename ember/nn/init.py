"""nn.init: parameter initialisation."""
