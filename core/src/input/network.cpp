#include "asteroid/input/network.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>

#include <algorithm>
#include <limits>
#include <map>

namespace asteroid {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The routing graph: vertex per node, plus a receiving vertex per host; the edge property is the
// index of the arc (a directed use of a link).
using RoutingGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                           boost::property<boost::edge_index_t, int>>;

// Breadth-first search that counts the shortest routes to each vertex (2 means "two or more") and
// keeps the arc of one of them.
struct CountingVisitor : boost::default_bfs_visitor {
  std::vector<int>* dist;
  std::vector<int>* count;
  std::vector<int>* pred;
  template <class Edge, class Graph>
  void tree_edge(Edge e, const Graph& g) {
    auto u = boost::source(e, g), v = boost::target(e, g);
    (*dist)[v] = (*dist)[u] + 1;
    (*count)[v] = (*count)[u];
    (*pred)[v] = boost::get(boost::edge_index, g, e);
  }
  template <class Edge, class Graph>
  void non_tree_edge(Edge e, const Graph& g) {
    auto u = boost::source(e, g), v = boost::target(e, g);
    if ((*dist)[v] == (*dist)[u] + 1) (*count)[v] = std::min(2, (*count)[v] + (*count)[u]);
  }
};

}  // namespace

std::shared_ptr<const Network> Network::build(const std::vector<std::string>& devices, const GraphSpec& spec,
                                              std::string* error) {
  auto net = std::make_shared<Network>();
  Network& n = *net;
  n.num_devices_ = int(devices.size());
  std::map<std::string, int> index;
  auto add_node = [&](const std::string& name, NodeKind kind) {
    index[name] = int(n.nodes_.size());
    n.nodes_.push_back({name, kind, 0, 0, -1});
  };
  for (const std::string& d : devices) add_node(d, NodeKind::device);
  add_node("coordinator", NodeKind::coordinator);
  for (const std::string& s : spec.switches) add_node(s, NodeKind::network_switch);
  for (const MediumSpec& m : spec.media) {
    add_node(m.name, NodeKind::medium);
    NetNode& node = n.nodes_.back();
    node.bandwidth_Bps = m.bandwidth_Bps;
    node.latency_s = m.latency_s;
    node.channel = int(n.channels_.size());
    n.channels_.push_back({m.name, m.bandwidth_Bps});
  }
  auto add_link = [&](int a, int b, double bw, double lat, Duplex duplex, bool station) {
    NetLink l{a, b, bw, lat, duplex, station, -1, -1};
    if (!station) {
      const std::string& x = n.nodes_[a].name;
      const std::string& y = n.nodes_[b].name;
      if (duplex == Duplex::half) {
        l.channel_ab = l.channel_ba = int(n.channels_.size());
        n.channels_.push_back({x + "-" + y, bw});
      } else {
        l.channel_ab = int(n.channels_.size());
        n.channels_.push_back({x + ">" + y, bw});
        l.channel_ba = int(n.channels_.size());
        n.channels_.push_back({y + ">" + x, bw});
      }
    }
    n.links_.push_back(l);
  };
  for (const LinkSpec& l : spec.links)
    add_link(index.at(l.a), index.at(l.b), l.bandwidth_Bps, l.latency_s, l.duplex, false);
  for (const MediumSpec& m : spec.media)
    for (const std::string& s : m.stations) add_link(index.at(s), index.at(m.name), 0, 0, Duplex::half, true);
  // The coordinator: a station of a medium, or a link as fast as the switch's fastest.
  if (!spec.coordinator.empty()) {
    int at = index.at(spec.coordinator);
    int me = n.num_devices_;
    if (n.nodes_[at].kind == NodeKind::medium) {
      add_link(me, at, 0, 0, Duplex::half, true);
    } else {
      double bw = 0, lat = 0;
      for (const NetLink& l : n.links_)
        if (!l.station && (l.a == at || l.b == at) && l.bandwidth_Bps > bw)
          bw = l.bandwidth_Bps, lat = l.latency_s;
      if (bw > 0) add_link(me, at, bw, lat, Duplex::full, false);
    }
  }

  // Routing graph: sending vertex = node index; receiving vertex of host h = V + h.
  const int V = int(n.nodes_.size()), H = n.hosts();
  auto is_host = [&](int node) { return node < H; };
  auto sink = [&](int node) { return is_host(node) ? V + node : node; };
  RoutingGraph g(V + H);
  auto add_arc = [&](int link, bool forward) {
    const NetLink& l = n.links_[link];
    int from = forward ? l.a : l.b, to = forward ? l.b : l.a;
    Arc arc{link, forward, from, sink(to)};
    boost::add_edge(arc.from, arc.to, int(n.arcs_.size()), g);
    n.arcs_.push_back(arc);
  };
  for (int i = 0; i < int(n.links_.size()); ++i) add_arc(i, true), add_arc(i, false);

  n.host_link_.assign(H, -1);
  n.host_medium_.assign(H, -1);
  for (int i = int(n.links_.size()) - 1; i >= 0; --i) {
    const NetLink& l = n.links_[i];
    for (int end : {l.a, l.b})
      if (is_host(end)) {
        if (l.station)
          n.host_medium_[end] = l.a == end ? l.b : l.a;
        else
          n.host_link_[end] = i;
      }
  }

  for (int d = 0; d < n.num_devices_; ++d)
    if (n.host_link_[d] < 0 && n.host_medium_[d] < 0 && n.num_devices_ > 1) {
      *error = "device \"" + n.nodes_[d].name + "\" is not connected: no link or medium names it";
      return nullptr;
    }
  n.pred_.assign(size_t(H) * (V + H), -1);
  n.latency_.assign(size_t(H) * H, 0);
  n.bottleneck_.assign(size_t(H) * H, kInf);
  std::vector<int> dist(V + H), count(V + H), pred(V + H);
  for (int s = 0; s < H; ++s) {
    std::fill(dist.begin(), dist.end(), -1);
    std::fill(count.begin(), count.end(), 0);
    std::fill(pred.begin(), pred.end(), -1);
    dist[s] = 0;
    count[s] = 1;
    CountingVisitor vis;
    vis.dist = &dist;
    vis.count = &count;
    vis.pred = &pred;
    // Devices do not forward: the search leaves a host only from the source (the receiving
    // vertices have no arcs out, and no arc enters a host's sending vertex).
    boost::breadth_first_search(g, boost::vertex(s, g), boost::visitor(vis));
    std::copy(pred.begin(), pred.end(), n.pred_.begin() + size_t(s) * (V + H));
    if (s == n.num_devices_) continue;  // the coordinator's routes are never ambiguous errors
    for (int t = s + 1; t < n.num_devices_; ++t) {
      if (dist[V + t] < 0) {
        *error = "no route joins devices \"" + n.nodes_[s].name + "\" and \"" + n.nodes_[t].name + "\"";
        return nullptr;
      }
      if (count[V + t] > 1) {
        *error = "devices \"" + n.nodes_[s].name + "\" and \"" + n.nodes_[t].name +
                 "\" are joined by two routes of " + std::to_string(dist[V + t]) +
                 " hops: a loop makes the route ambiguous";
        return nullptr;
      }
    }
  }
  for (int s = 0; s < H; ++s)
    for (int t = 0; t < H; ++t) {
      if (s == t) continue;
      double lat = 0, bw = kInf;
      bool reached = true;
      for (const RouteStep& st : n.route(s, t)) {
        if (st.link == -2) {
          reached = false;
          break;
        }
        if (st.medium >= 0) {
          lat += n.nodes_[st.medium].latency_s;
          bw = std::min(bw, n.nodes_[st.medium].bandwidth_Bps);
        } else {
          lat += n.links_[st.link].latency_s;
          bw = std::min(bw, n.links_[st.link].bandwidth_Bps);
        }
      }
      n.latency_[size_t(s) * H + t] = reached ? lat : kInf;
      n.bottleneck_[size_t(s) * H + t] = reached ? bw : 0;
    }

  // A star: every host hangs off one node by one link of its own (or as its station), and there is
  // no other link.
  int center = -1;
  bool star = true;
  std::vector<int> links_of(H, 0);
  for (const NetLink& l : n.links_) {
    int host = is_host(l.a) ? l.a : is_host(l.b) ? l.b : -1;
    int other = host == l.a ? l.b : l.a;
    if (host < 0 || is_host(other) || (center >= 0 && other != center)) star = false;
    if (host >= 0) ++links_of[host];
    center = other;
  }
  for (int h = 0; h < H; ++h)
    if (links_of[h] > 1 || (links_of[h] == 0 && h < n.num_devices_)) star = false;
  n.star_center_ = star ? center : -1;
  n.has_shared_ = !spec.media.empty();
  for (const NetLink& l : n.links_) n.has_shared_ |= !l.station && l.duplex == Duplex::half;
  return net;
}

std::vector<RouteStep> Network::route(int a, int b) const {
  const int V = int(nodes_.size()), H = hosts();
  const int* pred = pred_.data() + size_t(a) * (V + H);
  std::vector<RouteStep> steps;
  for (int v = V + b; v != a;) {
    int arc = pred[v];
    if (arc < 0) return {{-2, true, -1}};  // unreachable (only the coordinator may be)
    const Arc& x = arcs_[arc];
    int to = x.forward ? links_[x.link].b : links_[x.link].a;
    if (nodes_[to].kind == NodeKind::medium) steps.push_back({-1, true, to});
    if (!links_[x.link].station) steps.push_back({x.link, x.forward, -1});
    v = x.from;
  }
  std::reverse(steps.begin(), steps.end());
  return steps;
}

void Network::route_channels(int a, int b, std::vector<int>* out) const {
  const int V = int(nodes_.size()), H = hosts();
  const int* pred = pred_.data() + size_t(a) * (V + H);
  for (int v = V + b; v != a;) {
    int arc = pred[v];
    if (arc < 0) return;
    const Arc& x = arcs_[arc];
    const NetLink& l = links_[x.link];
    int to = x.forward ? l.b : l.a;
    if (nodes_[to].kind == NodeKind::medium) out->push_back(nodes_[to].channel);
    if (!l.station) out->push_back(x.forward ? l.channel_ab : l.channel_ba);
    v = x.from;
  }
}

}  // namespace asteroid
