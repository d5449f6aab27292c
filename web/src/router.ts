// Hash routing (any static server works): #/login, #/ (dashboard), #/inventory?q=…, #/vms/:id,
// #/hosts/:id, #/srs/:id, #/networks/:id, #/pools/:id, #/tasks, #/map.

import { createRouter, createWebHashHistory } from 'vue-router'
import { getToken, onUnauthorized } from './api/auth'
import { startSync, stopSync } from './store'
import DashboardView from './views/DashboardView.vue'
import LoginView from './views/LoginView.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true, title: 'Sign in' } },
    { path: '/', name: 'dashboard', component: DashboardView, meta: { title: 'Dashboard' } },
    {
      path: '/inventory',
      name: 'inventory',
      component: () => import('./views/InventoryView.vue'),
      meta: { title: 'Inventory' },
    },
    { path: '/vms/:id', name: 'vm', component: () => import('./views/VmView.vue'), meta: { title: 'VM' } },
    { path: '/hosts/:id', name: 'host', component: () => import('./views/HostView.vue'), meta: { title: 'Host' } },
    { path: '/srs/:id', name: 'sr', component: () => import('./views/SrView.vue'), meta: { title: 'Storage' } },
    {
      path: '/networks/:id',
      name: 'network',
      component: () => import('./views/NetworkView.vue'),
      meta: { title: 'Network' },
    },
    { path: '/pools/:id', name: 'pool', component: () => import('./views/PoolView.vue'), meta: { title: 'Pool' } },
    { path: '/tasks', name: 'tasks', component: () => import('./views/TasksView.vue'), meta: { title: 'Tasks' } },
    { path: '/map', name: 'map', component: () => import('./views/MapView.vue'), meta: { title: 'Map' } },
    {
      path: '/:rest(.*)*',
      name: 'not-found',
      component: () => import('./views/NotFoundView.vue'),
      meta: { title: 'Not found' },
    },
  ],
  scrollBehavior(to, _from, saved) {
    if (saved) return saved
    if (to.hash) return { el: to.hash }
    return { top: 0 }
  },
})

router.beforeEach((to) => {
  const signedIn = getToken() !== null
  if (!to.meta.public && !signedIn) {
    return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  }
  if (signedIn) startSync()
  return true
})

router.afterEach((to) => {
  const title = typeof to.meta.title === 'string' ? to.meta.title : ''
  document.title = title ? `${title} · xorca` : 'xorca'
})

// a 401 anywhere: the token is gone, back to the login screen
onUnauthorized(() => {
  stopSync()
  // the address the person is at (the router may still be on its way there)
  const here = window.location.hash.replace(/^#/, '') || '/'
  if (!here.startsWith('/login')) {
    void router.push({ name: 'login', query: { next: here, expired: '1' } })
  }
})
