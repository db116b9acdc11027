"""Octavia network driver for amphora-less test clouds (installed into $OSLAB_STATE/pyext by octavia.sh).

What a user of the API sees goes to the lab's real Neutron: the VIP subnet/network/port lookups the API
validates with, and the VIP port itself (allocated on create, deleted on delete, by Octavia's own
allowed-address-pairs driver). What only matters inside amphorae (plugging the VIP into an amphora's
VM, security groups on amphora ports, failover) is no-op, like the no-op amphora and compute drivers.

The worker runs AmphoraSideDriver: its member flows plug member networks into the (no-op) amphora and
then look up the ports and networks that plugging "made"; those exist only in the no-op driver, so a
lookup Neutron does not know falls back to it. The API keeps VipPortDriver, so a user's missing
subnet or network is still refused."""
from octavia.network import base
from octavia.network.drivers.neutron.allowed_address_pairs import AllowedAddressPairsDriver
from octavia.network.drivers.noop_driver.driver import NoopNetworkDriver

_FROM_NEUTRON = (
    'allocate_vip', 'deallocate_vip', 'get_network', 'get_subnet', 'get_port', 'get_qos_policy',
    'get_network_by_name', 'get_subnet_by_name', 'get_port_by_name', 'get_port_by_net_id_device_id',
    'get_security_group', 'get_network_ip_availability', 'qos_enabled',
)


class VipPortDriver(NoopNetworkDriver):
    def __init__(self):
        super().__init__()
        self.neutron = AllowedAddressPairsDriver()


def _delegate(name):
    return lambda self, *args, **kwargs: getattr(self.neutron, name)(*args, **kwargs)


for _name in _FROM_NEUTRON:
    setattr(VipPortDriver, _name, _delegate(_name))


def _or_noop(name):
    def lookup(self, resource_id, *args, **kwargs):
        try:
            return getattr(self.neutron, name)(resource_id, *args, **kwargs)
        except (base.PortNotFound, base.NetworkNotFound, base.SubnetNotFound):
            return getattr(NoopNetworkDriver, name)(self, resource_id, *args, **kwargs)
    return lookup


class AmphoraSideDriver(VipPortDriver):
    pass


for _name in ('get_port', 'get_network', 'get_subnet'):
    setattr(AmphoraSideDriver, _name, _or_noop(_name))
