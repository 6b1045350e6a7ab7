#include "platform.hpp"

#include <simgrid/kernel/ProfileBuilder.hpp>

#include <algorithm>
#include <map>
#include <sstream>

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {
namespace {

// "0 1\n<t> <cumulative factor>\n..." for a device's slowdowns, or nullptr when it has none.
simgrid::kernel::profile::Profile* speed_profile(const std::string& device, const FaultSpec& f) {
  std::vector<const FaultEvent*> mine;
  for (const FaultEvent& e : f.events)
    if (e.device == device && e.kind == FaultKind::slowdown) mine.push_back(&e);
  if (mine.empty()) return nullptr;
  std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->time_s < b->time_s; });
  std::ostringstream os;
  os.precision(17);
  double factor = 1.0;
  if (mine.front()->time_s > 0) os << "0 1\n";
  for (const FaultEvent* e : mine) {
    factor *= e->factor;
    os << e->time_s << " " << factor << "\n";
  }
  return simgrid::kernel::profile::ProfileBuilder::from_string("speed_" + device, os.str(), -1);
}

}  // namespace

Platform build_platform(const Cluster& c, const NetworkSpec& net, const FaultSpec& faults) {
  Platform p;
  auto* zone = sg4::create_star_zone("cluster");
  sg4::Link* air = nullptr;
  if (net.topology == Topology::wifi) {
    air = zone->create_link("air", net.bandwidth_Bps)->set_latency(net.latency_s)->seal();
  }
  auto attach = [&](sg4::Host* h) {
    if (air) {
      zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, {sg4::LinkInRoute(air)}, true);
      p.links.push_back(air);
      return;
    }
    auto* l = zone->create_split_duplex_link("link_" + h->get_name(), net.bandwidth_Bps)
                  ->set_latency(net.latency_s / 2)
                  ->seal();
    zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr,
                    {{l, sg4::LinkInRoute::Direction::UP}}, true);
    p.links.push_back(l);
  };
  for (const Device& d : c.devices) {
    sg4::Host* h = zone->create_host(d.name, kHostSpeed);
    h->set_property("memory_bytes", std::to_string((long long)d.memory_bytes));
    h->set_property("type", d.type);
    if (auto* prof = speed_profile(d.name, faults)) h->set_speed_profile(prof);
    h->seal();
    p.hosts.push_back(h);
    attach(h);
  }
  p.coordinator = zone->create_host("coordinator", kHostSpeed)->seal();
  attach(p.coordinator);
  p.links.pop_back();  // links[] is per device only
  zone->seal();
  return p;
}

}  // namespace asteroid::sim
